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
}
