import PageStore
import Synchronization

/// A ``FrontswapCache``'s counters, named as zswap's debugfs files
/// (`/sys/kernel/debug/zswap/*`) where zswap has them, plus the file tier's counters.
public struct FrontswapStatistics: Sendable, Equatable {
    /// `stored_pages`: entries in the pool (same-filled and raw ones included).
    public var storedPages = 0
    /// `pool_total_size`: bytes the pool holds from the system.
    public var poolTotalSize = 0
    /// The pool limit in bytes (`max_pool_percent` resolved).
    public var poolLimit = 0
    /// The accept threshold in bytes (`accept_threshold_percent` of the limit).
    public var acceptThreshold = 0
    /// `written_back_pages`: entries written from the pool to their file block.
    public var writtenBackPages = 0
    /// `reject_reclaim_fail`: writebacks that failed (the entry stayed in the pool).
    public var rejectReclaimFail = 0
    /// `reject_compress_poor`: stores sent to the file because the page did not compress
    /// (only with `storeIncompressible == false`).
    public var rejectCompressPoor = 0
    /// `reject_alloc_fail`: stores sent to the file because the pool could not allocate.
    public var rejectAllocFail = 0
    /// Stores sent to the file because the pool was full or not yet below the accept threshold.
    public var rejectPoolFull = 0
    /// `pool_limit_hit`: times a store found the pool at its limit.
    public var poolLimitHit = 0
    /// `same_filled_pages`: pool entries that are one repeated word (no pool memory).
    public var sameFilledPages = 0
    /// Pool entries stored raw (incompressible).
    public var rawPages = 0
    /// Loads served from the pool.
    public var loads = 0
    /// Exclusive loads: pool entries dropped by `slotFreeNotify` after a swap-in.
    public var exclusiveLoads = 0
    /// Loads served from the file.
    public var fileLoads = 0
    /// Pages stored straight to the file (rejected stores).
    public var fileStores = 0
    /// Pages whose only copy is in the file right now.
    public var pagesInFile = 0
    /// `discard` calls that dropped something (zswap_invalidate).
    public var invalidates = 0
    /// Reads that failed (file I/O error or checksum mismatch); nothing was freed.
    public var failedReads = 0
    /// File writes that failed (stores and writebacks).
    public var failedWrites = 0
    /// `slotFreeNotify` calls.
    public var notifyFree = 0
    /// `slotFreeNotify` calls that found the slot busy and kept the copy.
    public var missFree = 0
    /// Hole punches that failed (the block kept its stale data; nothing else changes).
    public var failedPunches = 0
    /// The backing file's own I/O counters (reads, writes, punches, syncs).
    public var file = PageFileCounters()

    /// All zero.
    public init() {}

    /// `name value` lines in the order above, as `grep . /sys/kernel/debug/zswap/*` lists them.
    public var lines: String {
        let fields: [(String, Int)] = [
            ("stored_pages", storedPages), ("pool_total_size", poolTotalSize), ("pool_limit", poolLimit),
            ("accept_threshold", acceptThreshold), ("written_back_pages", writtenBackPages),
            ("reject_reclaim_fail", rejectReclaimFail), ("reject_compress_poor", rejectCompressPoor),
            ("reject_alloc_fail", rejectAllocFail), ("reject_pool_full", rejectPoolFull),
            ("pool_limit_hit", poolLimitHit), ("same_filled_pages", sameFilledPages), ("raw_pages", rawPages),
            ("loads", loads), ("exclusive_loads", exclusiveLoads), ("file_loads", fileLoads),
            ("file_stores", fileStores), ("pages_in_file", pagesInFile), ("invalidates", invalidates),
            ("failed_reads", failedReads), ("failed_writes", failedWrites), ("notify_free", notifyFree),
            ("miss_free", missFree), ("failed_punches", failedPunches), ("file_reads", file.reads),
            ("file_writes", file.writes), ("file_punches", file.punches),
        ]
        return fields.map { "\($0.0) \($0.1)\n" }.joined()
    }
}

/// The cache's event counters: relaxed atomics, bumped on the paths that count them.
final class FrontswapCounters: Sendable {
    let writtenBack = Atomic<Int>(0)
    let rejectReclaimFail = Atomic<Int>(0)
    let rejectCompressPoor = Atomic<Int>(0)
    let rejectAllocFail = Atomic<Int>(0)
    let rejectPoolFull = Atomic<Int>(0)
    let poolLimitHit = Atomic<Int>(0)
    let loads = Atomic<Int>(0)
    let exclusiveLoads = Atomic<Int>(0)
    let fileLoads = Atomic<Int>(0)
    let fileStores = Atomic<Int>(0)
    let pagesInFile = Atomic<Int>(0)
    let invalidates = Atomic<Int>(0)
    let failedReads = Atomic<Int>(0)
    let failedWrites = Atomic<Int>(0)
    let failedPunches = Atomic<Int>(0)

    init() {}

}
