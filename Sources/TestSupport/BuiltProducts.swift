import Foundation

/// Finds an executable product built beside the test bundle, so tests can run the package's
/// helpers (`USwapTestHelper`, `USwapFaultHelper`, `uswap`) instead of forking the test process.
///
/// Looks in `USWAP_TEST_BIN_DIR`, the test binary's directory and its parent, then every
/// `.build*/debug` directory of the package.
public enum BuiltProducts {
    /// The path of the executable `name`, or nil when it was not built.
    public static func path(of name: String, filePath: String = #filePath) -> String? {
        var directories: [String] = []
        if let dir = ProcessInfo.processInfo.environment["USWAP_TEST_BIN_DIR"] { directories.append(dir) }
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append(parent(of: exe))
        }
        if let first = CommandLine.arguments.first, first.contains("/") {
            directories.append(parent(of: URL(fileURLWithPath: first).standardizedFileURL.path))
        }
        if let bundle = Bundle.main.executableURL?.deletingLastPathComponent().path { directories.append(bundle) }
        directories += directories.map(parent(of:))
        // #filePath: <root>/Sources/TestSupport/BuiltProducts.swift
        let root = parent(of: parent(of: parent(of: filePath)))
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: root) {
            for entry in entries.sorted() where entry.hasPrefix(".build") {
                directories.append("\(root)/\(entry)/debug")
                if let triples = try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(entry)") {
                    for triple in triples where triple.contains("-") { directories.append("\(root)/\(entry)/\(triple)/debug") }
                }
            }
        }
        for directory in directories {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    private static func parent(of path: String) -> String {
        URL(fileURLWithPath: path).deletingLastPathComponent().path
    }
}
