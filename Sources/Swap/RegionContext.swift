import PageStore

/// What the parts of one swap region share: its geometry, its settings, its backend and
/// descriptor, and the tables, counters and histograms that the fault handler, the reclaimer,
/// the file-read queue and the region itself all work on.
///
/// One value instead of a dozen initializer parameters: ``FaultHandler`` and ``Reclaimer`` are
/// made from it, and everything they share is read from it. A struct, stored inline in each of
/// them: `region.table` is then a projection of the holder's own storage, which the fault path
/// borrows without reference counting (with a class here, the release build retained and
/// released the tables around their uses on the fault path: 51 retain calls in the compiled
/// swap-in completion, against none).
///
/// Ownership: the context owns the tables (``PageStateTable``, ``SwapSlots``, ``SwapCache``,
/// ``VictimCache``, ``FileReadQueue``), counters and histograms; it does not own the region's memory (`base`) or
/// the descriptor behind ``uffd``, which the ``SwapRegion`` owns and outlives the context's
/// users with.
struct RegionContext: Sendable {
    /// The region's first byte.
    let base: UInt
    /// The region's size in bytes.
    let size: Int
    /// The page size, a power of two.
    let pageSize: Int
    /// log2 of ``pageSize``.
    let pageShift: Int
    /// The resident limit in pages.
    let limitPages: Int

    /// When compressed copies are freed.
    let policy: SlotPolicy
    /// How the reclaimer picks victims.
    let selection: SwapRegionConfiguration.VictimSelection
    /// Who serves faults.
    let faultMode: SwapRegionConfiguration.FaultMode
    /// Where eviction runs.
    let reclaimMode: SwapRegionConfiguration.ReclaimMode
    /// Evict dirty pages with `UFFDIO_MOVE` into the staging area (else write-protect them).
    let usesMove: Bool
    /// How many times a failed read is tried again.
    let readRetries: Int
    /// The pause before each retry.
    let readRetryPauseMicroseconds: Int

    /// Where evicted pages go.
    let backend: any SwapBackend
    /// Whether the backend frees a copy on `slotFreeNotify` (else the swap layer discards it).
    let freesOnNotify: Bool
    /// Every swap-in goes to the I/O threads: SIGBUS mode over a backend whose second-tier
    /// reads must not run in a signal handler (a pool hit seen by `readNeedsIO` may be written
    /// back before the read runs).
    let readsOffHandler: Bool
    /// The region's userfaultfd (a view: the region owns the descriptor).
    let uffd: Userfaultfd

    /// One state word per page.
    let table: PageStateTable
    /// The swap slots with their use counts.
    let slots: SwapSlots
    /// Fault frames and the staging area.
    let cache: SwapCache
    /// Uncompressed copies of the most recently evicted pages (capacity 0: none).
    let victims: VictimCache
    /// The I/O threads' requests, or nil when file reads run inline.
    let queue: FileReadQueue?
    /// The live counters behind ``SwapStatistics``.
    let counters = SwapCounters()
    /// Fault latency, every fault that installed a page.
    let latency = LatencyHistogram()
    /// Swap-ins whose read needed file I/O (a subset of ``latency``'s samples).
    let fileLatency = LatencyHistogram()

    /// The context of a region mapped at `base` with `configuration` (already validated),
    /// served through `uffd`. Throws ``SwapError/systemCall(_:errno:)`` when the swap cache
    /// cannot be mapped.
    init(configuration: SwapRegionConfiguration, backend: any SwapBackend, base: UInt, uffd: Userfaultfd,
         usesMove: Bool) throws(SwapError) {
        self.base = base
        size = configuration.size
        pageSize = configuration.pageSize
        pageShift = configuration.pageSize.trailingZeroBitCount
        limitPages = configuration.residentLimit / configuration.pageSize
        policy = configuration.policy
        selection = configuration.victimSelection
        faultMode = configuration.faultMode
        reclaimMode = configuration.reclaimMode
        readRetries = configuration.readRetries
        readRetryPauseMicroseconds = configuration.readRetryPauseMicroseconds
        self.backend = backend
        freesOnNotify = backend.freesOnNotify
        readsOffHandler = configuration.faultMode == .signal && !backend.ioReadsAreSignalSafe
        self.uffd = uffd
        table = PageStateTable(pageCount: configuration.size / configuration.pageSize)
        slots = SwapSlots(slotCount: backend.slotCount)
        let stagingCount = usesMove ? SwapTuning.stagingSlots(limitPages: limitPages) : 0
        do {
            cache = try SwapCache(
                frameCount: SwapTuning.swapCacheFrames, pageSize: pageSize, stagingCount: stagingCount,
                stagingBatch: SwapTuning.stagingBatch(stagingSlots: stagingCount))
        } catch {
            throw .systemCall("mmap of the swap cache", errno: error)
        }
        self.usesMove = usesMove && cache.stagingCount > 0
        // Only eviction by write protection fills the victim cache (validation requires it).
        do {
            victims = try VictimCache(capacity: self.usesMove ? 0 : configuration.victimCachePages, pageSize: pageSize)
        } catch {
            throw .systemCall("mmap of the victim cache", errno: error)
        }
        queue = if case .ioThreads = configuration.fileReads {
            FileReadQueue(
                capacity: SwapTuning.fileReadRequests, idleSpinNanoseconds: SwapTuning.ioThreadIdleSpinNanoseconds,
                waitSpinNanoseconds: SwapTuning.fileReadWaitSpinNanoseconds)
        } else {
            nil
        }
    }

    /// The address of page `page`.
    @inline(__always)
    func address(ofPage page: Int) -> UInt {
        base + UInt(page << pageShift)
    }

    /// The page holding `address` (inside the region).
    @inline(__always)
    func page(containing address: UInt) -> Int {
        Int((address - base) >> UInt(pageShift))
    }
}
