import Foundation

/// A file in a fresh temporary folder, removed by `remove()`.
struct CorpusFileFixture {
    let folder: URL
    let path: String

    /// Writes `bytes` to a new temporary file.
    init(_ bytes: [UInt8], name: String = "corpus.bin") throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("uswap-corpus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        path = folder.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }
}
