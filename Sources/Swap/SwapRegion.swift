#if os(Linux)
import CUSwap
import Glibc
#endif
import PageStore
import Synchronization
import SystemPackage

/// A range of ordinary memory with a resident limit: cold pages are compressed into a
/// ``SwapBackend`` and fault back in, through userfaultfd, when any thread touches them.
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
    // teardown, which runs once.

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

    let backend: any SwapBackend
    let table: PageStateTable
    let slots: SwapSlots
    let cache: SwapCache
    let counters: SwapCounters
    let latency: LatencyHistogram
    let reclaimer: Reclaimer
    let handler: FaultHandler
    let uffd: Userfaultfd
    private let registration: Int32
    private let closed = Atomic<Bool>(false)

    /// The resident limit in pages.
    public var residentLimitPages: Int { reclaimer.limitPages }

    /// Maps a region, registers it with userfaultfd and starts serving its faults.
    ///
    /// Throws ``SwapError/invalidConfiguration(_:)`` for sizes that do not fit (with what to
    /// change), and the ``probe()`` errors when userfaultfd is not usable here.
    public init(_ configuration: SwapRegionConfiguration, backend: any SwapBackend) throws(SwapError) {
        let systemPage = Int(sysconf(Int32(_SC_PAGESIZE)))
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
        let limitPages = configuration.residentLimit / pageSize
        guard limitPages >= SwapRegionConfiguration.minimumResidentPages else {
            throw .invalidConfiguration(
                "resident limit \(configuration.residentLimit) bytes is below \(SwapRegionConfiguration.minimumResidentPages) pages: raise it")
        }
        guard backend.slotCount > 0, backend.slotCount < Int(UInt32.max) else {
            throw .invalidConfiguration("the backend has \(backend.slotCount) slots: give it 1...\(UInt32.max - 1)")
        }
        if case .ioThreads(let n) = configuration.fileReads, !(1...16).contains(n) {
            throw .invalidConfiguration("\(n) file read threads: give 1...16 (or read inline)")
        }
        guard (0...100).contains(configuration.readRetries) else {
            throw .invalidConfiguration("\(configuration.readRetries) read retries: give 0...100")
        }
        guard (0...1_000_000).contains(configuration.readRetryPauseMicroseconds) else {
            throw .invalidConfiguration(
                "a read retry pause of \(configuration.readRetryPauseMicroseconds) us: give 0...1000000")
        }

        // The descriptor and its features.
        let available: UserfaultfdFeatures
        switch Self.probe() {
        case .success(let f): available = f
        case .failure(let e): throw e
        }
        var wanted: UserfaultfdFeatures = [.pagefaultFlagWP]
        let usesMove = configuration.evictionMethod == .move && available.contains(.move)
        if usesMove { wanted.insert(.move) }
        if configuration.faultMode == .signal {
            guard available.contains(.sigbus) else { throw .missingFeatures(.sigbus) }
            wanted.insert(.sigbus)
        }
        let uffd: Userfaultfd
        do {
            uffd = try Userfaultfd.open()
            _ = try uffd.handshake(requesting: wanted)
        } catch {
            throw .systemCall("userfaultfd handshake", errno: error)
        }

        // The mapping.
        guard let mapped = mmap(nil, configuration.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              mapped != MAP_FAILED else {
            let e = Errno(rawValue: errno)
            uffd.close()
            throw .systemCall("mmap of \(configuration.size) bytes", errno: e)
        }
        // 4 KiB pages only (a huge page would be split by the first eviction), and no
        // inheritance by fork().
        _ = madvise(mapped, configuration.size, MADV_NOHUGEPAGE)
        _ = madvise(mapped, configuration.size, MADV_DONTFORK)
        do {
            try uffd.register(mapped, length: configuration.size, writeProtect: true)
        } catch {
            munmap(mapped, configuration.size)
            uffd.close()
            throw .systemCall("UFFDIO_REGISTER", errno: error)
        }

        let base = UInt(bitPattern: mapped)
        let pageCount = configuration.size / pageSize
        let table = PageStateTable(pageCount: pageCount)
        let slots = SwapSlots(slotCount: backend.slotCount)
        // Staging: a small fraction of the limit (the staged pages are charged).
        let stagingCount = usesMove ? max(4, min(64, limitPages / 16)) : 0
        guard let cache = SwapCache(frameCount: 64, pageSize: pageSize, stagingCount: stagingCount,
                                    stagingBatch: max(1, stagingCount / 4)) else {
            munmap(mapped, configuration.size)
            uffd.close()
            throw .systemCall("mmap of the swap cache", errno: Errno(rawValue: errno))
        }
        if stagingCount > 0 {
            // UFFDIO_MOVE needs its destination registered with the same descriptor.
            do {
                try uffd.register(cache.stagingBase, length: stagingCount * pageSize, writeProtect: false)
            } catch {
                munmap(mapped, configuration.size)
                uffd.close()
                throw .systemCall("UFFDIO_REGISTER (staging area)", errno: error)
            }
        }
        let counters = SwapCounters()
        let latency = LatencyHistogram()
        let fileLatency = LatencyHistogram()
        // Half the swap cache's frames at most are held by file reads in flight.
        let queue: FileReadQueue? = if case .ioThreads = configuration.fileReads {
            FileReadQueue(capacity: 32, idleSpinNanoseconds: FileReadQueue.defaultIdleSpin,
                          waitSpinNanoseconds: FileReadQueue.defaultWaitSpin)
        } else { nil }
        let reclaimer = Reclaimer(
            base: base, pageSize: pageSize, table: table, slots: slots, backend: backend, uffd: uffd, counters: counters,
            limitPages: limitPages, selection: configuration.victimSelection, mode: configuration.reclaimMode,
            cache: cache, usesMove: usesMove)
        let handler = FaultHandler(
            base: base, size: configuration.size, pageSize: pageSize, table: table, slots: slots, cache: cache,
            backend: backend, uffd: uffd, counters: counters, latency: latency, fileLatency: fileLatency,
            reclaimer: reclaimer, policy: configuration.policy, limitPages: limitPages, queue: queue,
            readRetries: configuration.readRetries,
            retryPauseNanoseconds: configuration.readRetryPauseMicroseconds * 1000)

        var registration: Int32 = -1
        if configuration.faultMode == .signal {
            let rc = cuswap_sigbus_retain()
            if rc != 0 {
                munmap(mapped, configuration.size)
                uffd.close()
                throw .systemCall("sigaction(SIGBUS)", errno: Errno(rawValue: rc))
            }
            registration = cuswap_sigbus_register(base, configuration.size, swapRegionSignalEntry,
                                                  Unmanaged.passUnretained(handler).toOpaque())
            if registration < 0 {
                cuswap_sigbus_release()
                munmap(mapped, configuration.size)
                uffd.close()
                throw .tooManyRegions(limit: Int(cuswap_sigbus_capacity()))
            }
        }

        self.baseAddress = mapped
        self.size = configuration.size
        self.pageSize = pageSize
        self.configuration = configuration
        self.features = available
        self.backend = backend
        self.table = table
        self.slots = slots
        self.cache = cache
        self.counters = counters
        self.latency = latency
        self.reclaimer = reclaimer
        self.handler = handler
        self.uffd = uffd
        self.registration = registration

        do throws(SwapError) {
            if case .ioThreads(let n) = configuration.fileReads { try handler.startIOThreads(count: n) }
            if configuration.faultMode == .handlerThread { try handler.startThread() }
            try reclaimer.start()
        } catch {
            close()
            throw error
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
        var s = SwapStatistics()
        s.swapIns = counters.swapIns.load(ordering: .relaxed)
        s.swapOuts = counters.swapOuts.load(ordering: .relaxed)
        s.cleanDrops = counters.cleanDrops.load(ordering: .relaxed)
        s.writeProtectFaults = counters.writeProtectFaults.load(ordering: .relaxed)
        s.notifyFree = counters.notifyFree.load(ordering: .relaxed)
        s.zeroPageFills = counters.zeroPageFills.load(ordering: .relaxed)
        s.slotsDiscarded = counters.slotsDiscarded.load(ordering: .relaxed)
        s.copyExists = counters.copyExists.load(ordering: .relaxed)
        s.failedFaults = counters.failedFaults.load(ordering: .relaxed)
        s.failedEvictions = counters.failedEvictions.load(ordering: .relaxed)
        s.faults = counters.faults.load(ordering: .relaxed)
        s.keptCopies = counters.keptCopies.load(ordering: .relaxed)
        s.slotsInUse = slots.inUse
        s.stagedPages = cache.stagedPages
        let census = table.census()
        s.residentPages = census.resident
        s.swappedPages = census.swapped
        s.residentMaxPages = counters.chargedMax.load(ordering: .relaxed)
        s.faultLatency = latency.summary()
        s.fileReads = counters.fileReads.load(ordering: .relaxed)
        s.fileReadWaits = counters.fileReadWaits.load(ordering: .relaxed)
        s.inlineFileReads = counters.inlineFileReads.load(ordering: .relaxed)
        s.failedReads = counters.failedReads.load(ordering: .relaxed)
        s.readRetries = counters.readRetries.load(ordering: .relaxed)
        s.fileSwapInLatency = handler.fileLatency.summary()
        return s
    }

    /// Zeroes the event counters and the latency histogram (not the resident and swapped
    /// gauges; the resident maximum restarts from the current charge).
    public func resetStatistics() {
        counters.reset()
        latency.reset()
        handler.fileLatency.reset()
    }

    /// Pages charged against the resident limit now: mapped pages plus pager-held copies.
    public var chargedPages: Int { counters.charged.load(ordering: .relaxed) }

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
            case .swapped:
                slots.retain(state.slot)
                table.unlock(page, to: state)
                defer { reclaimer.dropReference(state.slot, asking: nil) }
                do {
                    try backend.readPage(at: state.slot, into: target)
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
        for page in first...last where table.load(page).kind != .resident {
            let address = UInt(bitPattern: baseAddress) + UInt(page * pageSize)
            guard handler.service(address: address, access: CUSWAP_ACCESS_READ) else {
                throw .pageUnavailable(page: page, reason: "the backend could not return it or no room could be made")
            }
        }
    }

    /// Stops serving faults, unmaps the region and frees its slots. Idempotent; deinit calls
    /// it. No thread may touch the region after (its memory is gone).
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if registration >= 0 {
            cuswap_sigbus_unregister(registration)
            cuswap_sigbus_release()
        }
        handler.stopThread()
        // Every file read in flight completes (installs or fails) before the memory goes.
        handler.stopIOThreads()
        reclaimer.stop()
        reclaimer.flushStaging()
        _ = try? uffd.unregister(baseAddress, length: size)
        munmap(baseAddress, size)
        for page in 0..<table.pageCount {
            let state = table.load(page)
            if state.hasSlot { reclaimer.dropReference(state.slot, asking: .discard) }
            table.unlock(page, to: .empty)
        }
        counters.charged.store(0, ordering: .relaxed)
        counters.keptCopies.store(0, ordering: .relaxed)
        uffd.close()
    }

    /// Evicts one page now if it is resident and unlocked (tests and tools). Returns whether
    /// it left memory.
    @discardableResult
    func evict(page: Int) -> Bool {
        guard let state = table.tryLock(page, if: { $0.kind == .resident }) else { return false }
        return reclaimer.evict(page, state)
    }

    /// The swap slot holding page `page`'s contents when the page is swapped out, or nil when
    /// it is resident or was never written (a racy answer while other threads fault or evict
    /// it). For tools and tests that inject faults into a particular block of a file tier.
    public func swapSlot(ofPage page: Int) -> Int? {
        guard page >= 0 && page < table.pageCount else { return nil }
        let state = table.load(page)
        return state.kind == .swapped ? state.slot : nil
    }

    /// The state word of a page (tests).
    func state(ofPage page: Int) -> PageState { table.load(page) }

    /// Debug-only consistency checks for tests, on a quiescent region: page states, slot
    /// counts (every slot in use belongs to exactly one page), swap cache frames, charge.
    public func checkInvariants() {
        #if DEBUG
        table.checkInvariants()
        let slotsUsed = slots.checkInvariants()
        cache.checkInvariants()
        handler.queue?.checkInvariants()
        var owned = 0
        var resident = 0
        for page in 0..<table.pageCount {
            let s = table.load(page)
            if s.hasSlot {
                owned += 1
                precondition(slots.useCount(s.slot) == 1, "slot \(s.slot) of page \(page) has count \(slots.useCount(s.slot))")
            }
            if s.kind == .resident { resident += 1 }
        }
        precondition(owned == slotsUsed, "\(slotsUsed) slots in use but \(owned) owned by pages")
        precondition(resident + cache.stagedPages == chargedPages,
                     "\(resident) resident and \(cache.stagedPages) staged pages but \(chargedPages) charged")
        precondition(chargedPages <= residentLimitPages, "charge above the limit")
        #endif
    }
}

#if os(Linux)
/// The C-callable entry the SIGBUS trampoline calls on the faulting thread.
private let swapRegionSignalEntry: cuswap_fault_fn = { context, address, access in
    let handler = Unmanaged<FaultHandler>.fromOpaque(context!).takeUnretainedValue()
    return handler.service(address: address, access: access) ? CUSWAP_FAULT_HANDLED : CUSWAP_FAULT_FAILED
}
#endif
