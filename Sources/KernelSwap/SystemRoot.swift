import SystemSupport

/// Where the kernel's files are: the live system (`""`), or a fixture tree in tests whose
/// layout mirrors `/sys/block`, `/sys/class/zram-control`, `/sys/module`, `/proc` and `/dev`.
public struct SystemRoot: Sendable, Equatable {
    /// Prefix put before every absolute path; empty for the live system.
    public var prefix: String

    /// A root at `prefix` (a directory laid out like `/`).
    public init(prefix: String) { self.prefix = prefix }

    /// The live system.
    public static let live = SystemRoot(prefix: "")

    /// `absolutePath` under this root.
    public func path(_ absolutePath: String) -> String { prefix + absolutePath }

    /// The /proc file `absolutePath` under this root, read and parsed by `parse`.
    /// - Throws: ``KernelSwapError/failed(_:)`` when the file cannot be read, or with
    ///   `missing` (after the path) when `parse` finds nothing in it.
    func readProc<T>(_ absolutePath: String, missing: String, _ parse: (String) -> T?) throws(KernelSwapError) -> T {
        let file = path(absolutePath)
        let text: String
        do { text = try ProcFile.read(file) } catch { throw .failed("cannot read \(file): \(error)") }
        guard let value = parse(text) else { throw .failed("\(file) \(missing)") }
        return value
    }
}
