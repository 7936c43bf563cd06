import KernelSwap
import PageStore
import SecondTier
import SystemSupport
import ZRAM
import ZSwap

/// Which store `uswap bench swap` (and the demo) swap to: `--backend zram|zswap|zswap:FILE`.
public enum BenchBackendKind: Sendable, Equatable, CustomStringConvertible {
    /// An in-process ZramDevice (optionally writing back to a file or a `--tier`).
    case zram
    /// A FrontswapCache over a swap file at this path, or (nil) over the `--tier`.
    case zswap(file: String?)

    /// Parses `zram`, `zswap` (its tier given by `--tier`) or `zswap:FILE`; nil for anything else.
    public init?(argument: String) {
        if argument == "zram" {
            self = .zram
        } else if argument == "zswap" {
            self = .zswap(file: nil)
        } else if argument.hasPrefix("zswap:"), argument.count > "zswap:".count {
            self = .zswap(file: String(argument.dropFirst("zswap:".count)))
        } else {
            return nil
        }
    }

    /// `zram` or `zswap:FILE`.
    public var description: String {
        switch self {
        case .zram: "zram"
        case .zswap(let file?): "zswap:\(file)"
        case .zswap(nil): "zswap"
        }
    }
}

/// A store a bench run swaps to, with the figures the report needs, whichever kind it is.
public struct BenchBackend: Sendable {
    /// What the swap region writes to.
    public let backend: any SwapBackend
    /// The backing file, if the backend has one.
    public let file: BackingFile?
    /// One line that says what it is, for progress output.
    public let label: String
    /// The pool limit in bytes, if any.
    public let poolLimitBytes: Int?
    /// The device, for a zram backend.
    public let zram: ZramDevice?
    /// The cache, for a zswap backend.
    public let cache: FrontswapCache?
    /// The file's removal on SIGINT/SIGTERM/SIGHUP, and the registry holding it.
    public var cleanup: (registry: CleanupRegistry, token: CleanupToken)? = nil
    /// The second tier given by `--tier`, which the backend closes.
    public var tier: OpenedTier? = nil

    /// A ZramDevice of `sizeBytes` (with `memLimit` if given); with `writebackPath`, a backing
    /// file there and automatic writeback of idle slots once `mem_used_total` reaches the pool
    /// limit (down to 90% of it, like zswap's accept threshold).
    public static func zram(
        sizeBytes: Int, memLimitBytes: Int?, writebackPath: String? = nil, poolLimit: PoolLimit? = nil,
        existing: ExistingFilePolicy = .refuseNonEmpty, registry: CleanupRegistry = SignalCleanup.shared
    ) throws -> BenchBackend {
        var configuration = ZramConfiguration(disksize: sizeBytes)
        if let memLimitBytes { configuration.memLimit = memLimitBytes }
        var file: BackingFile?
        var token: CleanupToken?
        var limit = memLimitBytes
        var label = "ZramDevice lz4"
        if let writebackPath {
            let blocks = sizeBytes / 4096
            let (backing, cleanup) = try openBenchFile(writebackPath, blockCount: blocks, existing: existing, registry: registry)
            file = backing
            token = cleanup
            let asked = poolLimit ?? .percentOfRAM(1)
            let high = asked.bytes(memTotal: MemInfo.totalBytes())
            var device = ZramBackingDevice(file: backing, blockCount: blocks)
            device.punchFreedBlocks = false  // a preallocated file: blocks are reused
            configuration.backingDevice = device
            configuration.automaticWriteback = ZramAutomaticWriteback(highWatermark: high, lowWatermark: high / 10 * 9)
            limit = high
            label += ", automatic writeback of idle slots above \(high >> 20) MiB (\(asked)) to \(backing.path)"
        }
        let device: ZramDevice
        do { device = try ZramDevice(configuration) } catch {
            file?.close()
            if let token { registry.cancel(token) }
            throw error
        }
        var backend = BenchBackend(backend: device, file: file, label: label, poolLimitBytes: limit, zram: device, cache: nil)
        backend.cleanup = token.map { (registry, $0) }
        return backend
    }

    /// A FrontswapCache (lz4) of `sizeBytes` worth of slots over the file at `path`.
    public static func zswap(
        sizeBytes: Int, path: String, poolLimit: PoolLimit,
        limitPolicy: FrontswapConfiguration.LimitPolicy = .rejectNewest, existing: ExistingFilePolicy = .refuseNonEmpty,
        registry: CleanupRegistry = SignalCleanup.shared
    ) throws(BenchBackendError) -> BenchBackend {
        let slots = sizeBytes / 4096
        let (file, token) = try openBenchFile(path, blockCount: slots, existing: existing, registry: registry)
        let memTotal = MemInfo.totalBytes()
        var configuration = FrontswapConfiguration(slotCount: slots)
        configuration.punchFreedBlocks = false  // a preallocated swap file: blocks are reused
        configuration.limitPolicy = limitPolicy
        configuration.poolLimit = poolLimit
        let cache: FrontswapCache
        do { cache = try FrontswapCache(configuration, file: file, memTotal: memTotal) } catch {
            file.close()
            if let token { registry.cancel(token) }
            throw .cache(error)
        }
        var backend = BenchBackend(
            backend: cache, file: file,
            label: "FrontswapCache lz4, pool limit \(poolLimit) = \(cache.poolLimitBytes >> 20) MiB, file \(file.path)",
            poolLimitBytes: cache.poolLimitBytes, zram: nil, cache: cache)
        backend.cleanup = token.map { (registry, $0) }
        return backend
    }

    /// The pool's mem_used_total.
    public var memUsedTotal: Int { backend.statistics.memUsedTotal }

    /// The pool's mm_stat line (trimmed).
    public var mmStatLine: String {
        if let zram { return ProcFile.trimmed(zram.mmStat.line) }
        if let cache { return ProcFile.trimmed(cache.mmStat.line) }
        return ""
    }

    /// Pages written back from the pool to the file (zswap: the LRU writeback, zswpwb).
    public var writtenBack: Int { backend.statistics.writtenBack }

    /// Pages read from the file.
    public var fileReads: Int { backend.statistics.fileReads }

    /// Pages stored in the file without passing through the pool (zswap: refused by a full pool).
    public var fileStores: Int { cache?.frontswapStatistics.fileStores ?? 0 }

    /// The second tier's counters now, to take right after a phase.
    public var fileFigures: (writtenBack: Int, fileReads: Int, fileStores: Int) { (writtenBack, fileReads, fileStores) }

    /// Whether a second tier had work to do: zram writeback was asked for, or a zswap pool
    /// reached its limit (a zswap pool that never fills rightly leaves its file alone).
    public var secondTierExpected: Bool {
        if let cache { return cache.frontswapStatistics.poolLimitHit > 0 || cache.frontswapStatistics.rejectPoolFull > 0 }
        return zram?.hasBackingDevice ?? false
    }

    /// zswap's counters, or zram's bd_stat with a backing file, for the human report.
    public var detailLines: String? {
        if let cache { return ProcFile.trimmed(cache.frontswapStatistics.lines) }
        if let zram, zram.hasBackingDevice { return "bd_stat " + ProcFile.trimmed(zram.bdStat.line) }
        return nil
    }

    /// Bytes of the backing file in the page cache now.
    public var fileCacheBytes: Int { (file ?? tier?.file)?.cachedBytes() ?? 0 }

    /// Closes the backing file (removing its name, if it still points at the file) and drops
    /// the removal from the signal cleanup; with a `--tier`, stops the store's writeback thread
    /// and closes the tier (a cluster's keys are deleted). Returns what could not be cleaned up
    /// (keys left on a cluster node that was down), or nil.
    @discardableResult
    public func close() -> String? {
        var problem: String?
        if let tier {
            zram?.stopTierWriteback()
            cache?.stopTierWriteback()
            do { try tier.close() } catch { problem = "\(error)" }
        }
        file?.close()
        if let cleanup { cleanup.registry.cancel(cleanup.token) }
        return problem
    }
}
