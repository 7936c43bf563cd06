import Foundation

/// A fresh directory under the temporary directory, removed by ``remove()``.
struct TemporaryDirectory {
    /// Its path.
    let path: String

    /// Makes the directory (`/tmp/uswap-<label>-<uuid>`).
    init(_ label: String) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("uswap-\(label)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes `bytes` to the file `name` in the directory and returns its path.
    func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let file = path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    /// Removes the directory and everything in it.
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}
