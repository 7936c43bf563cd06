import Foundation

/// A file of given bytes in a fresh temporary folder, for tests that read a corpus from a path;
/// `remove()` deletes the folder and everything in it.
public struct CorpusFileFixture: Sendable {
    /// The folder made for the file.
    public let folder: URL
    /// The file's path.
    public let path: String

    /// Writes `bytes` to a new file `name` in a new temporary folder.
    public init(_ bytes: [UInt8], name: String = "corpus.bin") throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("uswap-corpus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        path = folder.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Deletes the folder and the file.
    public func remove() { try? FileManager.default.removeItem(at: folder) }
}
