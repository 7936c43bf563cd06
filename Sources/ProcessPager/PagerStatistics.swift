import Synchronization

/// The pager's live counters, shared by its threads (all atomics, relaxed unless noted).
final class PagerCounters: Sendable {
    /// Managed pages mapped in the programs now.
    let resident = Atomic<Int>(0)
    /// Pages moved to scratch areas and not yet dropped (uncompressed copies held for the pager).
    let scratch = Atomic<Int>(0)
    /// The cap on resident + scratch pages now (the limit minus charged unmanaged memory).
    let capPages: Atomic<Int>
    /// Set when no page can be evicted while faults wait: they are served over the cap.
    let capOverride = Atomic<Bool>(false)
    /// Faults waiting for room under the cap.
    let parked = Atomic<Int>(0)
    /// Pages evicted since the start (the clock of refault distances).
    let evictions = Atomic<Int>(0)

    let swapIns = Atomic<Int>(0)
    let swapOuts = Atomic<Int>(0)
    let zeroFills = Atomic<Int>(0)
    let zeroEvictions = Atomic<Int>(0)
    let missingFaults = Atomic<Int>(0)
    let writeProtectFaults = Atomic<Int>(0)
    let duplicateFaults = Atomic<Int>(0)
    let waitedOnEviction = Atomic<Int>(0)
    let parkedFaults = Atomic<Int>(0)
    let overrides = Atomic<Int>(0)
    let failedReads = Atomic<Int>(0)
    let failedWrites = Atomic<Int>(0)
    let unexpectedMissing = Atomic<Int>(0)
    let lostPages = Atomic<Int>(0)
    let pinnedPages = Atomic<Int>(0)
    let sharedPages = Atomic<Int>(0)
    let unsharedPages = Atomic<Int>(0)
    let givenBack = Atomic<Int>(0)
    let secondChances = Atomic<Int>(0)
    let refaults = Atomic<Int>(0)
    let removedPages = Atomic<Int>(0)
    let remappedPages = Atomic<Int>(0)
    let batches = Atomic<Int>(0)
    let compactions = Atomic<Int>(0)
    let sharedSlotReuses = Atomic<Int>(0)
    let relativeSlotShares = Atomic<Int>(0)
    let pagesCompacted = Atomic<Int>(0)
    let fileCacheDroppedBytes = Atomic<Int>(0)
    let moveCalls = Atomic<Int>(0)
    let sessionsStarted = Atomic<Int>(0)
    let sessionsLive = Atomic<Int>(0)
    let forks = Atomic<Int>(0)
    let unannouncedForks = Atomic<Int>(0)
    let pendingBytes = Atomic<Int>(0)

    init(capPages: Int) { self.capPages = Atomic(capPages) }

    /// Adds `pages` to the managed resident count.
    @inline(__always)
    func addResident(_ pages: Int) { resident.add(pages, ordering: .relaxed) }
}

/// A snapshot of a pager's figures: the kernel's vocabulary where it has a word (swap-ins,
/// mm_stat fields), the pager's own otherwise.
public struct PagerStatistics: Codable, Sendable, Equatable {
    /// Managed pages in the programs now.
    public var residentPages = 0
    /// Pages moved out and not yet dropped by the agents.
    public var scratchPages = 0
    /// The cap on the two above now, in pages.
    public var capPages = 0
    /// Pages brought back from the pager's store (major faults).
    public var swapIns = 0
    /// Pages taken out of the programs and stored (zero pages included).
    public var swapOuts = 0
    /// Never-filled (or given back) pages installed as zeros.
    public var zeroFills = 0
    /// Evicted pages that were all zeros: no slot, they come back as zero fills.
    public var zeroEvictions = 0
    /// Missing-page faults read.
    public var missingFaults = 0
    /// Write-protect faults read.
    public var writeProtectFaults = 0
    /// Faults whose page another thread's fault had already brought in.
    public var duplicateFaults = 0
    /// Faults that waited for their page's eviction to finish.
    public var waitedOnEviction = 0
    /// Faults held back until eviction made room under the cap.
    public var parkedFaults = 0
    /// Times no page could be evicted while faults waited, so they went over the cap.
    public var capOverrides = 0
    /// Reads from the store that failed (the thread got SIGBUS).
    public var failedReads = 0
    /// Stores refused (the page stayed in the program).
    public var failedWrites = 0
    /// Missing faults on pages the pager believed resident (0 unless something is wrong).
    public var unexpectedMissing = 0
    /// Pages whose bytes were lost (a fork without the agent's handlers caught them in flight).
    public var lostPages = 0
    /// Pages that cannot be moved out (their mapping forbids it: read-only, locked).
    public var pinnedPages = 0
    /// Evictions refused because fork shares the page; they are made exclusive and tried again.
    public var sharedPages = 0
    /// Pages made exclusive by the agent (copy-on-write broken without a write).
    public var unsharedPages = 0
    /// Pages moved back into the program after a failed store.
    public var givenBack = 0
    /// Victims skipped once because they refaulted soon after an eviction.
    public var secondChances = 0
    /// Swap-ins of pages evicted less than one limit's worth of evictions ago.
    public var refaults = 0
    /// Pages the programs unmapped or gave back (munmap, madvise).
    public var removedPages = 0
    /// Pages moved by mremap.
    public var remappedPages = 0
    /// Eviction batches.
    public var batches = 0
    /// Evictions that went back to the slot a fork had shared (the page unchanged since).
    public var sharedSlotReuses = 0
    /// Evictions that found the page's exact bytes in a slot of a process related by fork (the
    /// same page gone out of the other one first) and shared that slot instead of a new copy.
    public var relativeSlotShares = 0
    /// Samples at which a pool was compacted (``PagerConfiguration/compactWastePercent``).
    public var compactions = 0
    /// System pages (4 KiB) those compactions gave back.
    public var pagesCompacted = 0
    /// Page cache dropped behind the program's file positions (``StreamCache``), in bytes.
    public var fileCacheDroppedBytes = 0
    /// UFFDIO_MOVE calls.
    public var moveCalls = 0
    /// Program images (exec and fork children) that joined.
    public var sessionsStarted = 0
    /// Sessions alive now.
    public var sessionsLive = 0
    /// Forks seen (fork events).
    public var forks = 0
    /// Forks that came without the agent's announcement (no pthread_atfork handlers ran).
    public var unannouncedForks = 0
    /// Bytes mapped before the agents could register them (unmanaged).
    public var pendingBytes = 0
    /// The stores' mm_stat orig_data_size.
    public var origDataSize = 0
    /// The stores' mm_stat compr_data_size.
    public var comprDataSize = 0
    /// The stores' mm_stat mem_used_total: the pool's memory.
    public var memUsedTotal = 0
    /// Slot tables, pool descriptors and use counts.
    public var metadataBytes = 0
    /// Slots in use.
    public var usedSlots = 0
    /// Pages written back to a file tier, and read back from it.
    public var writtenBack = 0
    /// Pages read back from a file tier.
    public var fileReads = 0
    /// Fault service time (the fault message read to the page installed): median, in µs.
    public var p50Us = 0.0
    /// The 99th percentile of the fault service time, in µs.
    public var p99Us = 0.0
    /// The 99.9th percentile of the fault service time, in µs.
    public var p999Us = 0.0
    /// Faults the service times cover.
    public var latencySamples = 0

    /// An empty snapshot.
    public init() {}

    /// orig_data_size / compr_data_size, or 0 when nothing is stored.
    public var compressionRatio: Double {
        comprDataSize > 0 ? Double(origDataSize) / Double(comprDataSize) : 0
    }
}
