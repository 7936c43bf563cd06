import SystemSupport

/// What the kernel side swaps to.
public enum KernelSwapBacking: Sendable, Equatable, CustomStringConvertible {
    /// zram0 (lz4) as the only swap (the default, as kswap.sh).
    case zram
    /// The kernel's zswap in front of a fresh swap file as the only swap, as kzswap.sh:
    /// zswap enabled with `max_pool_percent` set to `maxPoolPercent` (1...100, percent of RAM).
    case zswap(maxPoolPercent: Int)

    /// "zram" or "zswap (max_pool_percent N)".
    public var description: String {
        switch self {
        case .zram: "zram"
        case .zswap(let percent): "zswap (max_pool_percent \(percent))"
        }
    }

    /// The smallest max_pool_percent whose pool limit holds `bytes` on a machine with
    /// `memTotalBytes` of RAM (zswap's limit is total RAM x percent / 100), within 1...100:
    /// how a pool limit given in bytes becomes the kernel's knob.
    public static func zswapPoolPercent(holding bytes: Int, memTotalBytes: Int) -> Int {
        guard memTotalBytes > 0 else { return 100 }
        let percent = (max(bytes, 0) * 100 + memTotalBytes - 1) / memTotalBytes
        return min(max(percent, 1), 100)
    }

    /// ``zswapPoolPercent(holding:memTotalBytes:)`` with MemTotal from /proc/meminfo under `root`.
    public static func zswapPoolPercent(holding bytes: Int, root: SystemRoot = .live) throws(KernelSwapError) -> Int {
        let total = try root.readProc("/proc/meminfo", missing: "has no MemTotal line") { MemInfo.parse($0)["MemTotal"] }
        return zswapPoolPercent(holding: bytes, memTotalBytes: total)
    }
}
