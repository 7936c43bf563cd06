import Synchronization
import ZsPool

/// Formats `value` as C's `%8llu` / `%8ld`: right-aligned in at least 8 columns.
@inline(__always)
func kernelField(_ value: Int) -> String { ZsPoolMMStat.field(value) }

/// zram's `mm_stat`: memory figures, with the kernel's exact line (``ZramDevice/mmStat``). The
/// record is the pool's (`ZsPoolMMStat`), shared with ZSwap's cache, so both read alike.
public typealias ZramMMStat = ZsPoolMMStat

/// zram's `io_stat`.
public struct ZramIOStat: Sendable, Equatable {
    /// failed_reads: reads that failed (a corrupt object).
    public var failedReads: Int
    /// failed_writes: writes that failed (the memory limit, an allocation).
    public var failedWrites: Int
    /// notify_free: swap slot free notifications received.
    public var notifyFree: Int

    /// Makes a record from its fields.
    public init(failedReads: Int, failedWrites: Int, notifyFree: Int) {
        self.failedReads = failedReads
        self.failedWrites = failedWrites
        self.notifyFree = notifyFree
    }

    /// The sysfs text as io_stat_show prints it: `"%8llu %8llu 0 %8llu\n"` (the third field,
    /// once invalid_io, is always 0).
    public var line: String {
        "\(kernelField(failedReads)) \(kernelField(failedWrites)) 0 \(kernelField(notifyFree))\n"
    }
}

/// zram's `bd_stat`: the backing-device counters, in 4 KiB units (a 16 KiB page counts 4), as
/// ``ZramDevice/bdStat`` reports them. All zero for a device without a backing file.
public struct ZramBDStat: Sendable, Equatable {
    /// bd_count: pages currently on the backing device (written-back slots).
    public var count: Int
    /// bd_reads: pages read from it (every read of a written-back slot, failed ones included,
    /// as the kernel counts them when it issues the read).
    public var reads: Int
    /// bd_writes: pages written to it (successful block writes, including those whose slot
    /// changed meanwhile so the page stayed in memory).
    public var writes: Int

    /// Makes a record from its fields.
    public init(count: Int, reads: Int, writes: Int) {
        self.count = count
        self.reads = reads
        self.writes = writes
    }

    /// The sysfs text as bd_stat_show prints it: `"%8llu %8llu %8llu\n"`.
    public var line: String { "\(kernelField(count)) \(kernelField(reads)) \(kernelField(writes))\n" }
}

/// zram's `debug_stat`.
public struct ZramDebugStat: Sendable, Equatable {
    /// The format version the kernel prints (1).
    public var version: Int
    /// miss_free: free notifications that found the slot locked and kept the copy.
    public var missFree: Int

    /// Makes a record from its fields.
    public init(version: Int = 1, missFree: Int) {
        self.version = version
        self.missFree = missFree
    }

    /// The sysfs text as debug_stat_show prints it: `"version: %d\n0 %8llu\n"`.
    public var line: String { "version: \(version)\n0 \(kernelField(missFree))\n" }
}

/// The device's live counters (atomics, relaxed: each is exact on its own; a report reads them
/// one after another, as sysfs does).
final class ZramCounters: Sendable {
    let failedReads = Atomic<Int>(0)
    let failedWrites = Atomic<Int>(0)
    let recompressed = Atomic<Int>(0)
    /// bd_count, bd_reads, bd_writes, in pages.
    let bdCount = Atomic<Int>(0)
    let bdReads = Atomic<Int>(0)
    let bdWrites = Atomic<Int>(0)
    /// writeback_limit_enable and writeback_limit (4 KiB units); reset with the device.
    let writebackLimitEnabled = Atomic<Bool>(false)
    let writebackLimit = Atomic<Int>(0)
    let writebackFailedWrites = Atomic<Int>(0)
    let writebackCancelled = Atomic<Int>(0)
    let writebackRefused = Atomic<Int>(0)
    let storesAboveHighWatermark = Atomic<Int>(0)
    /// The file tier's failed punches at the last reset: ``ZramWritebackStatistics/failedPunches``
    /// counts from there (the tier's own count never restarts).
    let failedPunchesAtReset = Atomic<Int>(0)
    let automaticRounds = Atomic<Int>(0)
    let automaticPages = Atomic<Int>(0)
    let automaticNanoseconds = Atomic<Int>(0)
    let automaticBusy = Atomic<Int>(0)
    let automaticIdleMarkings = Atomic<Int>(0)
    let automaticFileFull = Atomic<Int>(0)
    let automaticLimitStops = Atomic<Int>(0)
    let automaticCompactions = Atomic<Int>(0)

    /// Sets every counter to zero (device reset).
    func reset() {
        failedReads.store(0, ordering: .relaxed)
        failedWrites.store(0, ordering: .relaxed)
        recompressed.store(0, ordering: .relaxed)
        // bd_count follows the slots as they are freed; the rest restart from zero.
        bdReads.store(0, ordering: .relaxed)
        bdWrites.store(0, ordering: .relaxed)
        writebackLimitEnabled.store(false, ordering: .relaxed)
        writebackLimit.store(0, ordering: .relaxed)
        writebackFailedWrites.store(0, ordering: .relaxed)
        writebackCancelled.store(0, ordering: .relaxed)
        writebackRefused.store(0, ordering: .relaxed)
        storesAboveHighWatermark.store(0, ordering: .relaxed)
        automaticRounds.store(0, ordering: .relaxed)
        automaticPages.store(0, ordering: .relaxed)
        automaticNanoseconds.store(0, ordering: .relaxed)
        automaticBusy.store(0, ordering: .relaxed)
        automaticIdleMarkings.store(0, ordering: .relaxed)
        automaticFileFull.store(0, ordering: .relaxed)
        automaticLimitStops.store(0, ordering: .relaxed)
        automaticCompactions.store(0, ordering: .relaxed)
    }
}
