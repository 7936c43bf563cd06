#if os(Linux)
import CUSwap
#endif
import PageStore
import Synchronization
import SystemPackage
import SystemSupport

/// A range of ordinary memory with a resident limit: cold pages are compressed into a backend
/// (PageStore's `SwapBackend`) and fault back in, through userfaultfd, when any thread touches
/// them.
///
/// ```swift
/// let zram = try ZramDevice(ZramConfiguration(disksize: 64 << 20))
/// let region = try SwapRegion(SwapRegionConfiguration(size: 64 << 20, residentLimit: 16 << 20),
///                             backend: zram)
/// let bytes = region.baseAddress.assumingMemoryBound(to: UInt8.self)
/// for i in stride(from: 0, to: region.size, by: region.pageSize) { bytes[i] = 1 }  // plain stores
/// print(region.statistics.swapOuts)  // > 0: only 16 MiB stay resident
/// ```
///
/// Memory: the region owns an anonymous mapping of ``size`` bytes, registered with its own
/// userfaultfd, from init until ``close()`` (or deinit). The application may read and write it
/// through ``baseAddress`` from any thread until then; pointers into it are invalid after.
/// ``withBytes(_:)`` and ``withMutableBytes(_:)`` give the same memory as spans that cannot
/// outlive the call, and ``SwapArray`` gives typed, bounds-checked elements in a region of
/// their own.
///
/// Kernel-mode accesses: the descriptor is user-mode-only (no privilege needed), so a system
/// call that reads or writes an evicted page from the kernel (`read(2)` into it, `write(2)` from
/// it) fails with EFAULT instead of faulting it in. Call ``prefault(_:)`` on the range first.
///
/// fork(): the mapping is `MADV_DONTFORK`: a child process does not inherit the region at all
/// (its pages would otherwise read as zeros there, with no pager behind them).
///
/// Thread safety: every method may be called from any thread; the statistics are snapshots.
public final class SwapRegion: @unchecked Sendable {
    // @unchecked Sendable: mutable state lives in atomics and in page locks; `closed` guards
    // teardown, which runs once, and the owned resources below change only there.

    /// The first byte of the region: plain memory any thread reads and writes.
    public let baseAddress: UnsafeMutableRawPointer
    /// The region's size in bytes.
    public let size: Int
    /// The page size.
    public let pageSize: Int
    /// The configuration the region was made with.
    public let configuration: SwapRegionConfiguration
    /// The userfaultfd features the kernel reported.
    public let features: UserfaultfdFeatures

    /// What the fault handler, the reclaimer and the region share.
    let context: RegionContext
    /// Evicts to keep the region within its limit (and runs the background thread).
    let reclaimer: Reclaimer
    /// Serves the region's faults (and runs the handler and I/O threads).
    let handler: FaultHandler

    // What the region owns, released by close() in this order (each type releases itself if
    // setup fails half way).
    private var signalRegistration: SignalRegistration?
    private var mapping: AnonymousMapping?
    private var descriptor: OwnedUserfaultfd?
    private let closed = Atomic<Bool>(false)

    /// The resident limit in pages.
    public var residentLimitPages: Int { context.limitPages }

    /// Whether ``close()`` was called: the region's memory is gone.
    public var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Maps a region, registers it with userfaultfd and starts serving its faults.
    ///
    /// Throws ``SwapError/invalidConfiguration(_:)`` for sizes that do not fit (with what to
    /// change), and the ``probe()`` errors when userfaultfd is not usable here. A setup that
    /// fails leaves nothing behind: no mapping, no descriptor, no signal handler, no thread.
    public convenience init(_ configuration: SwapRegionConfiguration, backend: any SwapBackend) throws(SwapError) {
        try self.init(configuration, backend: backend, failingAt: nil)
    }

    /// A setup step that tests make fail, to prove that a failed setup releases everything it
    /// made.
    @_spi(Testing) public enum SetupFault: String, Sendable, CaseIterable {
        /// The handshake asks for a feature no kernel has (the kernel answers EINVAL), after
        /// the mapping exists.
        case handshake
        /// Every thread and registration exists, then a thread start fails.
        case threadStart = "thread-start"
    }

    /// ``init(_:backend:)`` with one setup step made to fail (`nil`: none).
    @_spi(Testing) public init(
        _ configuration: SwapRegionConfiguration, backend: any SwapBackend, failingAt fault: SetupFault?
    ) throws(SwapError) {
        try Self.validate(configuration, backend: backend)
        let available = try Self.probe().get()
        var wanted = try Self.features(for: configuration, available: available)
        // Bit 62: a feature no kernel defines (UFFD_FEATURE_* ends far below it).
        if fault == .handshake { wanted.insert(UserfaultfdFeatures(rawValue: 1 << 62)) }

        // The memory: base pages only (AnonymousMapping turns huge pages off; the first
        // eviction would split one), and no inheritance by fork().
        let mapping: AnonymousMapping
        do {
            mapping = try AnonymousMapping(size: configuration.size)
        } catch {
            throw .systemCall("mmap of \(configuration.size) bytes", errno: error)
        }
        _ = madvise(mapping.base, mapping.size, MADV_DONTFORK)

        // The descriptor, registered over the memory.
        let descriptor: OwnedUserfaultfd
        do {
            descriptor = try OwnedUserfaultfd.open(requesting: wanted)
        } catch {
            throw .systemCall("userfaultfd handshake", errno: error)
        }
        let uffd = descriptor.handle
        do {
            try uffd.register(mapping.base, length: mapping.size, writeProtect: true)
        } catch {
            throw .systemCall("UFFDIO_REGISTER", errno: error)
        }

        // The shared tables, the reclaimer and the fault path.
        let context = try RegionContext(
            configuration: configuration, backend: backend, base: UInt(bitPattern: mapping.base), uffd: uffd,
            usesMove: wanted.contains(.move))
        if context.cache.stagingCount > 0 {
            // UFFDIO_MOVE needs its destination registered with the same descriptor.
            do {
                try uffd.register(context.cache.stagingBase, length: context.cache.stagingCount * context.pageSize, writeProtect: false)
            } catch {
                throw .systemCall("UFFDIO_REGISTER (staging area)", errno: error)
            }
        }
        let reclaimer = Reclaimer(region: context)
        let handler = FaultHandler(region: context, reclaimer: reclaimer)
        // The handler outlives the registration: the region holds both and ends the
        // registration first in close(). Handler-thread mode registers too: the SIGBUS of a
        // page it poisoned clears the marker, so that the next access retries the read.
        let registration: SignalRegistration? = try SignalRegistration(
            base: context.base, length: context.size, entry: swapRegionSignalEntry,
            context: Unmanaged.passUnretained(handler).toOpaque())

        baseAddress = mapping.base
        size = configuration.size
        pageSize = configuration.pageSize
        self.configuration = configuration
        features = available
        self.context = context
        self.reclaimer = reclaimer
        self.handler = handler
        self.signalRegistration = registration
        self.mapping = consume mapping
        self.descriptor = consume descriptor

        do throws(SwapError) {
            if case .ioThreads(let n) = configuration.fileReads { try handler.startIOThreads(count: n) }
            if configuration.faultMode == .handlerThread { try handler.startThread() }
            try reclaimer.start()
            if fault == .threadStart {
                throw .systemCall("pthread_create (a failure injected by a test)", errno: .resourceTemporarilyUnavailable)
            }
        } catch {
            close()
            throw error
        }
    }

    /// The features a region made with `configuration` asks the handshake for, of those the
    /// kernel has: write-protect faults always, `UFFDIO_MOVE` for eviction by move where the
    /// kernel has it (else eviction falls back to write protection); SIGBUS delivery for faults
    /// served on the faulting thread, `UFFDIO_POISON` for faults served by a handler thread
    /// (the one way it can make a failed swap-in raise SIGBUS in the faulting thread: without it
    /// the woken thread would fault again forever). A mode's feature is required: throws
    /// ``SwapError/missingFeatures(_:)`` without it.
    static func features(for configuration: SwapRegionConfiguration, available: UserfaultfdFeatures) throws(SwapError) -> UserfaultfdFeatures {
        var wanted = UserfaultfdFeatures.required
        if configuration.evictionMethod == .move && available.contains(.move) { wanted.insert(.move) }
        let delivery: UserfaultfdFeatures = configuration.faultMode == .signal ? .sigbus : .poison
        guard available.contains(delivery) else { throw .missingFeatures(delivery) }
        wanted.insert(delivery)
        return wanted
    }

    /// Checks everything about a configuration that needs no system call; throws
    /// ``SwapError/invalidConfiguration(_:)`` with what to change.
    static func validate(_ configuration: SwapRegionConfiguration, backend: any SwapBackend) throws(SwapError) {
        let systemPage = AnonymousMapping.pageSize
        let pageSize = configuration.pageSize
        guard pageSize == systemPage else {
            throw .invalidConfiguration("page size \(pageSize) differs from the system's \(systemPage): use \(systemPage)")
        }
        guard backend.pageSize == pageSize else {
            throw .invalidConfiguration("the backend's page size \(backend.pageSize) differs from the region's \(pageSize): configure both alike")
        }
        guard configuration.size > 0, configuration.size % pageSize == 0 else {
            throw .invalidConfiguration("region size \(configuration.size) must be a positive multiple of the page size \(pageSize)")
        }
        guard configuration.size / pageSize < Int(UInt32.max) else {
            throw .invalidConfiguration("region size \(configuration.size) is too large: at most \(UInt32.max - 1) pages")
        }
        guard configuration.residentLimit / pageSize >= SwapRegionConfiguration.minimumResidentPages else {
            throw .invalidConfiguration(
                "resident limit \(configuration.residentLimit) bytes is below \(SwapRegionConfiguration.minimumResidentPages) pages: raise it")
        }
        let victims = configuration.victimCachePages, limitPages = configuration.residentLimit / pageSize
        guard SwapRegionConfiguration.isValidVictimCache(pages: victims, limitPages: limitPages) else {
            throw .invalidConfiguration(
                "a victim cache of \(victims) pages: give 0 (none) or a power of two of at most half the resident limit (\(limitPages / 2) pages)")
        }
        guard victims == 0 || configuration.evictionMethod == .writeProtect else {
            throw .invalidConfiguration("the victim cache is filled by eviction by write protection: set victimCachePages to 0 with eviction by move")
        }
        guard backend.slotCount > 0, backend.slotCount < Int(UInt32.max) else {
            throw .invalidConfiguration("the backend has \(backend.slotCount) slots: give it 1...\(UInt32.max - 1)")
        }
        let threads = SwapTuning.ioThreadRange, retries = SwapTuning.readRetryRange, pause = SwapTuning.readRetryPauseRange
        if case .ioThreads(let n) = configuration.fileReads, !threads.contains(n) {
            throw .invalidConfiguration("\(n) file read threads: give \(threads.lowerBound)...\(threads.upperBound) (or read inline)")
        }
        if configuration.faultMode == .signal, configuration.fileReads == .inline, !backend.ioReadsAreSignalSafe {
            throw .invalidConfiguration(
                "the backend's second tier (a cluster, an encrypting tier) must not be read in the SIGBUS handler: set fileReads to .ioThreads(N) (uswap: --file-reads io-threads:2) or faultMode to .handlerThread")
        }
        guard retries.contains(configuration.readRetries) else {
            throw .invalidConfiguration("\(configuration.readRetries) read retries: give \(retries.lowerBound)...\(retries.upperBound)")
        }
        guard pause.contains(configuration.readRetryPauseMicroseconds) else {
            throw .invalidConfiguration(
                "a read retry pause of \(configuration.readRetryPauseMicroseconds) us: give \(pause.lowerBound)...\(pause.upperBound)")
        }
    }

    deinit {
        close()
    }

    /// Whether userfaultfd is usable in this process, and if not, why: opens a user-mode-only
    /// descriptor and asks the kernel for its features.
    ///
    /// Failures: ``SwapError/userfaultfdUnsupported`` (ENOSYS), ``SwapError/userfaultfdDenied(errno:reason:)``
    /// (EPERM from a seccomp filter or `vm.unprivileged_userfaultfd=0` on a kernel without
    /// `UFFD_USER_MODE_ONLY`; EINVAL from a kernel older than 5.11 that rejects that flag),
    /// ``SwapError/missingFeatures(_:)`` (no write-protect faults: before 5.7).
    public static func probe() -> Result<UserfaultfdFeatures, SwapError> {
        #if os(Linux)
        let uffd: Userfaultfd
        do {
            uffd = try Userfaultfd.open()
        } catch {
            switch error {
            case .noFunction:
                return .failure(.userfaultfdUnsupported)
            case .notPermitted:
                return .failure(.userfaultfdDenied(errno: error, reason:
                    "a seccomp filter blocks the system call (containers: allow userfaultfd in the profile), or vm.unprivileged_userfaultfd=0 and the kernel has no UFFD_USER_MODE_ONLY (Linux < 5.11): set the sysctl to 1 or run with CAP_SYS_PTRACE"))
            case .invalidArgument:
                return .failure(.userfaultfdDenied(errno: error, reason:
                    "the kernel rejects UFFD_USER_MODE_ONLY (Linux < 5.11): use a newer kernel"))
            default:
                return .failure(.userfaultfdDenied(errno: error, reason: "opening a userfaultfd failed"))
            }
        }
        defer { uffd.close() }
        let features: UserfaultfdFeatures
        do {
            features = try uffd.handshake(requesting: [])
        } catch {
            return .failure(.userfaultfdDenied(errno: error, reason: "the UFFDIO_API handshake failed"))
        }
        let missing = UserfaultfdFeatures.required.subtracting(features)
        guard missing.isEmpty else { return .failure(.missingFeatures(missing)) }
        return .success(features)
        #else
        return .failure(.userfaultfdUnsupported)
        #endif
    }

    /// A snapshot of the counters and gauges.
    public var statistics: SwapStatistics {
        let counters = context.counters
        var s = counters.snapshot()
        s.slotsInUse = context.slots.inUse
        s.stagedPages = context.cache.stagedPages
        s.victimCachePages = context.victims.populatedFrames
        let census = context.table.census()
        s.residentPages = census.resident
        s.swappedPages = census.swapped
        s.overLimitPages = max(0, s.residentPages + s.stagedPages + s.victimCachePages - context.limitPages)
        s.faultLatency = context.latency.summary()
        s.fileSwapInLatency = context.fileLatency.summary()
        return s
    }

    /// Zeroes the event counters and the latency histograms (not the resident and swapped
    /// gauges; the resident maximum restarts from the current charge).
    public func resetStatistics() {
        context.counters.reset()
        context.latency.reset()
        context.fileLatency.reset()
    }

    /// Pages charged against the resident limit now: mapped pages plus pager-held copies.
    public var chargedPages: Int { context.counters.charged.load(ordering: .relaxed) }

    /// Copies the whole region into `buffer` (exactly ``size`` bytes): resident pages from
    /// memory, swapped pages decompressed from their slots, untouched pages as zeros.
    ///
    /// Never faults a page in and never frees a slot (a read that is not a swap-in); it holds
    /// a reference on each slot while it reads it. Pages are copied one at a time, each
    /// consistent with itself. `buffer` must not lie inside the region.
    public func snapshot(into buffer: UnsafeMutableRawBufferPointer) throws(SwapError) {
        guard !closed.load(ordering: .acquiring) else { throw .closed }
        guard buffer.count == size, let destination = buffer.baseAddress else {
            throw .wrongBufferSize(expected: size, actual: buffer.count)
        }
        let start = UInt(bitPattern: destination), end = start + UInt(buffer.count)
        let regionStart = UInt(bitPattern: baseAddress), regionEnd = regionStart + UInt(size)
        guard end <= regionStart || start >= regionEnd else { throw .bufferInsideRegion }
        let table = context.table
        for page in 0..<table.pageCount {
            let target = UnsafeMutableRawBufferPointer(start: destination + page * pageSize, count: pageSize)
            let state = table.lock(page)
            switch state.kind {
            case .empty:
                table.unlock(page, to: state)
                target.initializeMemory(as: UInt8.self, repeating: 0)
            case .resident:
                // Mapped, and it stays mapped while we hold its lock: this read cannot fault.
                target.copyMemory(from: UnsafeRawBufferPointer(start: baseAddress + page * pageSize, count: pageSize))
                table.unlock(page, to: state)
            case .cached:
                // Unmapped: its frame is its only copy, and stays while we hold its lock.
                target.copyMemory(from: UnsafeRawBufferPointer(start: context.victims.address(ofStamp: state.stamp), count: pageSize))
                table.unlock(page, to: state)
            case .swapped:
                context.slots.retain(state.slot)
                table.unlock(page, to: state)
                defer { reclaimer.dropReference(state.slot, asking: nil) }
                do {
                    try context.backend.readPage(at: state.slot, into: target)
                } catch {
                    throw .backend(error)
                }
            }
        }
    }

    /// Makes every page overlapping the byte range `range` resident (swapping in as a read
    /// would), e.g. before passing it to a system call. Pages may be evicted again afterwards
    /// if other faults need the room: keep ranges well below the resident limit.
    public func prefault(_ range: Range<Int>) throws(SwapError) {
        guard !closed.load(ordering: .acquiring) else { throw .closed }
        guard range.lowerBound >= 0, range.upperBound <= size else { throw .rangeOutOfBounds(range, size: size) }
        guard !range.isEmpty else { return }
        let first = range.lowerBound / pageSize
        let last = (range.upperBound - 1) / pageSize
        for page in first...last where context.table.load(page).kind != .resident {
            let served = handler.serve(address: context.address(ofPage: page), access: .read)
            // A thread that touched the page meanwhile sleeps in the kernel: the handler thread
            // left its wake to this read's completion, which installs without waking.
            if configuration.faultMode == .handlerThread { _ = context.uffd.wake(context.address(ofPage: page), length: pageSize) }
            guard served != .failed else {
                throw .pageUnavailable(page: page, reason: "the backend could not return it or no room could be made")
            }
        }
    }

    /// Stops serving faults, unmaps the region and frees its slots. Idempotent; deinit calls
    /// it. No thread may touch the region after (its memory is gone).
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        // No SIGBUS reaches the handler from now on (waits for those being served).
        signalRegistration = nil
        handler.stopThread()
        // Every file read in flight completes (installs or fails) before the memory goes.
        handler.stopIOThreads()
        reclaimer.stop()
        reclaimer.flushStaging()
        _ = try? context.uffd.unregister(baseAddress, length: size)
        mapping = nil
        let table = context.table
        for page in 0..<table.pageCount {
            let state = table.load(page)
            if state.hasSlot { reclaimer.dropReference(state.slot, asking: .discard) }
            table.unlock(page, to: .empty)
        }
        context.counters.charged.store(0, ordering: .relaxed)
        context.counters.keptCopies.store(0, ordering: .relaxed)
        descriptor = nil
    }

    /// Evicts one page now if it is resident and unlocked (tests and tools). Returns whether
    /// it left memory.
    @discardableResult
    func evict(page: Int) -> Bool {
        guard let state = context.table.tryLock(page, if: { $0.kind == .resident }) else { return false }
        return reclaimer.evict(page, state) == .evicted
    }

    /// The swap slot holding page `page`'s contents when the page is swapped out, or nil when
    /// it is resident or was never written (a racy answer while other threads fault or evict
    /// it). For tools and tests that inject faults into a particular block of a file tier.
    public func swapSlot(ofPage page: Int) -> Int? {
        guard page >= 0 && page < context.table.pageCount else { return nil }
        let state = context.table.load(page)
        return state.kind == .swapped ? state.slot : nil
    }

    /// The state word of a page (tests).
    func state(ofPage page: Int) -> PageState { context.table.load(page) }

    /// The swap slots (tests).
    var slots: SwapSlots { context.slots }

    /// The region's userfaultfd (tests).
    var uffd: Userfaultfd { context.uffd }

    /// Tests: stops the background reclaimer, if it runs, and waits for its last eviction, so
    /// that page states, counters and the backend's figures stay put while a test reads them.
    /// The region keeps working: charges evict in the fault path from then on.
    func quiesce() { reclaimer.stop() }

    /// Debug-only consistency checks for tests, on a region no application thread touches:
    /// page states, slot counts (every slot in use belongs to exactly one page), swap cache
    /// frames, charge, the descriptor and the mapping the region owns. A background reclaimer
    /// is stopped for the checks and started again after them.
    public func checkInvariants() {
        #if DEBUG
        let restart = reclaimer.isRunning
        reclaimer.stop()
        defer { if restart { try? reclaimer.start() } }
        let table = context.table, slots = context.slots, cache = context.cache
        if !closed.load(ordering: .acquiring) {
            descriptor?.checkInvariants()
            precondition(mapping?.base == baseAddress && mapping?.size == size, "the region's mapping is not the one it owns")
        }
        table.checkInvariants()
        let slotsUsed = slots.checkInvariants()
        cache.checkInvariants()
        context.queue?.checkInvariants()
        reclaimer.checkInvariants()
        context.latency.checkInvariants()
        var owned = 0
        var resident = 0
        var cached = 0
        for page in 0..<table.pageCount {
            let s = table.load(page)
            if s.hasSlot {
                owned += 1
                precondition(slots.useCount(s.slot) == 1, "slot \(s.slot) of page \(page) has count \(slots.useCount(s.slot))")
            }
            if s.kind == .resident { resident += 1 }
            if s.kind == .cached { cached += 1 }
        }
        precondition(owned == slotsUsed, "\(slotsUsed) slots in use but \(owned) owned by pages")
        let held = context.victims.checkInvariants()
        for (page, stamp) in held {
            let s = table.load(page)
            precondition(s.kind == .cached && s.stamp == stamp, "the victim cache holds page \(page) (stamp \(stamp)), which is \(s)")
        }
        precondition(held.count == cached, "\(held.count) pages in the victim cache, \(cached) cached")
        let kept = context.victims.populatedFrames
        precondition(resident + cache.stagedPages + kept == chargedPages,
                     "\(resident) resident, \(cache.stagedPages) staged and \(kept) victim cache pages but \(chargedPages) charged")
        precondition(chargedPages <= residentLimitPages || reclaimer.hasOverrun.load(ordering: .relaxed),
                     "charge above the limit, but the backend never refused a page")
        #endif
    }
}

#if os(Linux)
/// The C-callable entry the SIGBUS trampoline calls on the faulting thread (async-signal-safe:
/// ``FaultHandler/serve(address:access:queueing:)`` is).
private let swapRegionSignalEntry: cuswap_fault_fn = { context, address, access in
    let handler = Unmanaged<FaultHandler>.fromOpaque(context!).takeUnretainedValue()
    let access = FaultAccess(reported: access)
    // A poisoned page (reported as such where the kernel has CONFIG_MEMORY_FAILURE, as a
    // plain SIGBUS elsewhere: in handler-thread mode no other SIGBUS comes from the region):
    // the thread gets this SIGBUS (the trampoline chains it); its next access retries.
    if access == .poisoned || handler.region.faultMode == .handlerThread {
        handler.clearPoison(address: address)
        return CUSWAP_FAULT_FAILED
    }
    return handler.serve(address: address, access: access) != .failed ? CUSWAP_FAULT_HANDLED : CUSWAP_FAULT_FAILED
}
#endif
