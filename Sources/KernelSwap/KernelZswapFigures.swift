import SystemSupport

/// What zswap holds right now, from /proc/meminfo: the kernel child reads it right after its
/// touch phase (as the zram child reads zram0's mm_stat).
public struct KernelZswapFigures: Sendable, Equatable {
    /// `Zswap:` memory the compressed pool takes, bytes.
    public var poolBytes: Int
    /// `Zswapped:` uncompressed size of the pages zswap holds, bytes.
    public var storedBytes: Int

    /// Figures from their values.
    public init(poolBytes: Int, storedBytes: Int) {
        self.poolBytes = poolBytes
        self.storedBytes = storedBytes
    }

    /// The figures in /proc/meminfo's text, or nil when it lacks Zswap or Zswapped (a kernel
    /// without zswap).
    public static func parse(meminfo text: String) -> KernelZswapFigures? {
        let fields = MemInfo.parse(text)
        guard let pool = fields["Zswap"], let stored = fields["Zswapped"] else { return nil }
        return KernelZswapFigures(poolBytes: pool, storedBytes: stored)
    }

    /// Reads /proc/meminfo under `root`.
    public static func read(root: SystemRoot = .live) throws(KernelSwapError) -> KernelZswapFigures {
        try root.readProc("/proc/meminfo", missing: "has no Zswap/Zswapped lines: this kernel does not report zswap") {
            parse(meminfo: $0)
        }
    }
}
