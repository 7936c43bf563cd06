import Synchronization

/// A swap region's counters, as a snapshot.
///
/// A *swap-in* is a fault that needed the backend's data: the page was swapped out and the
/// fault read its slot (same-filled slots included). First touches of never-written pages are
/// ``zeroPageFills``, not swap-ins, and a write to a lazily swapped-in page is a
/// ``writeProtectFaults``.
public struct SwapStatistics: Sendable, Equatable {
    /// Faults that read a page's contents from the backend and installed them.
    public var swapIns = 0
    /// Pages compressed and written to the backend by eviction.
    public var swapOuts = 0
    /// Clean pages evicted by dropping them (their copy was still in a slot): no compression.
    public var cleanDrops = 0
    /// Writes to pages mapped write-protected (clean pages after a lazy swap-in).
    public var writeProtectFaults = 0
    /// `slotFreeNotify` calls: compressed copies freed on swap-in.
    public var notifyFree = 0
    /// First touches served with the zero page.
    public var zeroPageFills = 0
    /// Pages mapped in the region now.
    public var residentPages = 0
    /// Pages whose contents are only in the backend now.
    public var swappedPages = 0
    /// The most pages the region held against its resident limit at once.
    public var residentMaxPages = 0
    /// From handler entry to page installed, for faults that installed a page.
    public var faultLatency = LatencySummary()

    // Added beyond the published contract:

    /// Slots freed by discard (stale copies, pages dirtied after a lazy swap-in, close).
    public var slotsDiscarded = 0
    /// `UFFDIO_COPY` calls that found the page already mapped (EEXIST): nothing was freed.
    public var copyExists = 0
    /// Faults that could not be served (backend read failed, no room): SIGBUS was delivered.
    public var failedFaults = 0
    /// Evictions that failed (backend full); the page stayed resident.
    public var failedEvictions = 0
    /// Resident pages that still own a slot (lazy copies).
    public var keptCopies = 0
    /// Evicted pages whose uncompressed copy waits in the staging area for a batched free:
    /// charged against the resident limit beside ``residentPages``.
    public var stagedPages = 0
    /// Swap slots in use.
    public var slotsInUse = 0
    /// All faults the handler served (missing, write-protect, and spurious).
    public var faults = 0

    /// Swap-ins whose page was read from a file tier by an I/O thread
    /// (``SwapRegionConfiguration/FileReads/ioThreads(_:)``).
    public var fileReads = 0
    /// Of ``fileReads``, those still in flight when the fault had done its other work (the
    /// charge, which may evict a page): the faulting thread slept on the completion, or, with a
    /// handler thread, the I/O thread completed the fault.
    public var fileReadWaits = 0
    /// Swap-ins from a file tier read on the faulting path itself (``SwapRegionConfiguration/FileReads/inline``,
    /// or every request slot was in flight).
    public var inlineFileReads = 0
    /// Backend reads that failed (every attempt counts; the backend counts its own
    /// `failed_reads` too). Nothing was freed for any of them.
    public var failedReads = 0
    /// Reads tried again after an I/O error or a checksum mismatch
    /// (``SwapRegionConfiguration/readRetries``).
    public var readRetries = 0
    /// Latency of the swap-ins whose read needed file I/O (also part of ``faultLatency``).
    public var fileSwapInLatency = LatencySummary()

    /// All zero.
    public init() {}
}

/// The live counters behind ``SwapStatistics``: relaxed atomics, safe to bump from a signal
/// handler.
final class SwapCounters: Sendable {
    let swapIns = Atomic<Int>(0)
    let swapOuts = Atomic<Int>(0)
    let cleanDrops = Atomic<Int>(0)
    let writeProtectFaults = Atomic<Int>(0)
    let notifyFree = Atomic<Int>(0)
    let zeroPageFills = Atomic<Int>(0)
    let slotsDiscarded = Atomic<Int>(0)
    let copyExists = Atomic<Int>(0)
    let failedFaults = Atomic<Int>(0)
    let failedEvictions = Atomic<Int>(0)
    let faults = Atomic<Int>(0)
    /// Pages charged against the resident limit now (mapped + pager-held copies).
    let charged = Atomic<Int>(0)
    /// The most pages charged at once.
    let chargedMax = Atomic<Int>(0)
    /// Resident pages that still own a slot.
    let keptCopies = Atomic<Int>(0)
    let fileReads = Atomic<Int>(0)
    let fileReadWaits = Atomic<Int>(0)
    let inlineFileReads = Atomic<Int>(0)
    let failedReads = Atomic<Int>(0)
    let readRetries = Atomic<Int>(0)

    init() {}

    /// Zeroes the event counters (not the gauges).
    func reset() {
        swapIns.store(0, ordering: .relaxed)
        swapOuts.store(0, ordering: .relaxed)
        cleanDrops.store(0, ordering: .relaxed)
        writeProtectFaults.store(0, ordering: .relaxed)
        notifyFree.store(0, ordering: .relaxed)
        zeroPageFills.store(0, ordering: .relaxed)
        slotsDiscarded.store(0, ordering: .relaxed)
        copyExists.store(0, ordering: .relaxed)
        failedFaults.store(0, ordering: .relaxed)
        failedEvictions.store(0, ordering: .relaxed)
        faults.store(0, ordering: .relaxed)
        fileReads.store(0, ordering: .relaxed)
        fileReadWaits.store(0, ordering: .relaxed)
        inlineFileReads.store(0, ordering: .relaxed)
        failedReads.store(0, ordering: .relaxed)
        readRetries.store(0, ordering: .relaxed)
        chargedMax.store(charged.load(ordering: .relaxed), ordering: .relaxed)
    }
}
