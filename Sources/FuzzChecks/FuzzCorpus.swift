import Foundation

/// The committed inputs of the fuzz targets: `Tests/FuzzCorpus/<target>/`, seeds (`seed-…`)
/// and the minimised inputs that once broke a check (`crash-…`, `mismatch-…`), which the
/// regression tests run on every `swift test`.
public enum FuzzCorpus {
    /// One input file.
    public struct Input: Sendable, CustomStringConvertible {
        /// The file's name (`seed-…`, `crash-…`).
        public var name: String
        /// Its bytes.
        public var bytes: [UInt8]
        /// The name, for test reports.
        public var description: String { name }
    }

    /// `Tests/FuzzCorpus` of the package this file was built from.
    public static func root(filePath: String = #filePath) -> String {
        // #filePath: <root>/Sources/FuzzChecks/FuzzCorpus.swift
        let url = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return url.appendingPathComponent("Tests/FuzzCorpus").path
    }

    /// The committed directory of `target` (`FuzzLZ4Decode`, ...).
    public static func directory(of target: String) -> String { "\(root())/\(target)" }

    /// Every regular file in `directory`, by name; nothing when it does not exist.
    public static func inputs(in directory: String) -> [Input] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.sorted().compactMap { name in
            guard !name.hasPrefix("."), let data = FileManager.default.contents(atPath: "\(directory)/\(name)") else { return nil }
            return Input(name: name, bytes: [UInt8](data))
        }
    }

    /// Every file at `path`: the file itself, or the files in it when it is a directory.
    public static func inputs(at path: String) -> [Input] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
        if isDirectory.boolValue { return inputs(in: path).map { Input(name: "\(path)/\($0.name)", bytes: $0.bytes) } }
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return [Input(name: path, bytes: [UInt8](data))]
    }

    /// The committed inputs of `target`.
    public static func inputs(of target: String) -> [Input] { inputs(in: directory(of: target)) }

    /// The name a seed is stored under: `seed-` and 16 hex digits of its FNV-1a hash, so the
    /// same seed always lands in the same file.
    public static func seedName(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        let hex = String(hash, radix: 16)
        return "seed-" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Writes `seeds` into `directory` (made if needed) under their ``seedName(_:)``s.
    /// - Returns: how many files it wrote.
    public static func write(seeds: [[UInt8]], to directory: String) throws -> Int {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for seed in seeds {
            try Data(seed).write(to: URL(fileURLWithPath: "\(directory)/\(seedName(seed))"))
        }
        return Set(seeds.map(seedName)).count
    }
}
