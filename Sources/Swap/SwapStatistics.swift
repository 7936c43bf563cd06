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
    /// Faults on evicted pages still in the victim cache (uncompressed, unmapped): the page
    /// was installed from its frame, with no read and no decompression. Not counted in
    /// ``swapIns``, as the kernel counts a fault its swap cache serves as a minor fault.
    public var victimCacheHits = 0
    /// Evicted pages that went to the victim cache instead of the backend (each is compressed,
    /// a ``swapOuts``, only if it is pushed out of the cache before a fault takes it back).
    public var victimCacheFills = 0
    /// Victim cache frames holding memory now (charged against the resident limit).
    public var victimCachePages = 0
    /// Pages compressed and written to the backend by eviction (from the region, or pushed out
    /// of the victim cache).
    public var swapOuts = 0
    /// Clean pages evicted by dropping them (their copy was still in a slot): no compression.
    public var cleanDrops = 0
    /// Writes to pages mapped write-protected: clean pages after a lazy swap-in, and pages read
    /// back on probation, watched for their first write (a sign of use for victim selection).
    public var writeProtectFaults = 0
    /// Writes to dirty pages that a batched eviction write-protected along with its victims
    /// (they sat in the batch's span): one fault lifted the protection.
    public var spanProtectFaults = 0
    /// `slotFreeNotify` calls: compressed copies freed on swap-in.
    public var notifyFree = 0
    /// First touches of never-written pages: a read maps the shared zero page, a write gets a
    /// zeroed page of its own.
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
    /// Evictions that failed (the backend refused the page: full or a failed write; or a
    /// system call failed); the page stayed resident and nothing was lost.
    public var failedEvictions = 0
    /// Pages charged beyond the resident limit because the backend refused evictions (its
    /// slots, pool, file or writeback budget exhausted): each fault that would otherwise have
    /// failed kept its page resident instead.
    public var limitOverruns = 0
    /// How far the region is above its resident limit now, in pages (mapped + staged + victim
    /// cache pages beyond the limit; 0 normally). It comes back down as the backend takes pages again.
    public var overLimitPages = 0
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
    /// Failed faults delivered by `UFFDIO_POISON` (handler-thread mode): the woken thread got
    /// SIGBUS from the page's marker.
    public var poisonedFaults = 0
    /// Poison markers cleared after their SIGBUS (or before a prefault): the slot was kept, and
    /// the next access read it again.
    public var poisonsCleared = 0
    /// Latency of the swap-ins whose read needed file I/O (also part of ``faultLatency``).
    public var fileSwapInLatency = LatencySummary()

    /// All zero.
    public init() {}
}

/// The live counters behind ``SwapStatistics``: relaxed atomics, safe to bump from a signal
/// handler. Events are counted by name into one ``AtomicArray``; the gauges (charge, its
/// maximum, kept copies) go up and down and are atomics of their own.
final class SwapCounters: Sendable {
    /// The events a region counts, each filling the statistics field of its name.
    enum Event: Int, CaseIterable {
        case swapIns, swapOuts, cleanDrops, writeProtectFaults, notifyFree, zeroPageFills, slotsDiscarded
        case copyExists, failedFaults, failedEvictions, faults, fileReads, fileReadWaits, inlineFileReads
        case failedReads, readRetries, limitOverruns, poisonedFaults, poisonsCleared, spanProtectFaults
        case victimCacheHits, victimCacheFills

        /// The field of ``SwapStatistics`` that reports the event.
        var field: WritableKeyPath<SwapStatistics, Int> {
            switch self {
            case .swapIns: \.swapIns
            case .swapOuts: \.swapOuts
            case .cleanDrops: \.cleanDrops
            case .writeProtectFaults: \.writeProtectFaults
            case .notifyFree: \.notifyFree
            case .zeroPageFills: \.zeroPageFills
            case .slotsDiscarded: \.slotsDiscarded
            case .copyExists: \.copyExists
            case .failedFaults: \.failedFaults
            case .failedEvictions: \.failedEvictions
            case .faults: \.faults
            case .fileReads: \.fileReads
            case .fileReadWaits: \.fileReadWaits
            case .inlineFileReads: \.inlineFileReads
            case .failedReads: \.failedReads
            case .readRetries: \.readRetries
            case .limitOverruns: \.limitOverruns
            case .poisonedFaults: \.poisonedFaults
            case .poisonsCleared: \.poisonsCleared
            case .spanProtectFaults: \.spanProtectFaults
            case .victimCacheHits: \.victimCacheHits
            case .victimCacheFills: \.victimCacheFills
            }
        }
    }

    private let events = AtomicArray<Int>(count: Event.allCases.count, initialValue: 0)
    /// Pages charged against the resident limit now (mapped + pager-held copies).
    let charged = Atomic<Int>(0)
    /// The most pages charged at once.
    let chargedMax = Atomic<Int>(0)
    /// Resident pages that still own a slot.
    let keptCopies = Atomic<Int>(0)

    /// Counts one `event`. Async-signal-safe.
    @inline(__always)
    func count(_ event: Event) {
        events[event.rawValue].add(1, ordering: .relaxed)
    }

    /// How many times `event` happened since the last ``reset()``.
    func value(_ event: Event) -> Int {
        events[event.rawValue].load(ordering: .relaxed)
    }

    /// The counters and the charge gauges as statistics (the fields that need the page table,
    /// the slots or the histograms are left for the region to fill).
    func snapshot() -> SwapStatistics {
        var s = SwapStatistics()
        for event in Event.allCases { s[keyPath: event.field] = value(event) }
        s.keptCopies = keptCopies.load(ordering: .relaxed)
        s.residentMaxPages = chargedMax.load(ordering: .relaxed)
        return s
    }

    /// Zeroes the event counters (not the gauges; the maximum restarts from the charge now).
    func reset() {
        for event in Event.allCases { events[event.rawValue].store(0, ordering: .relaxed) }
        chargedMax.store(charged.load(ordering: .relaxed), ordering: .relaxed)
    }
}
