#if os(Linux)
import CUSwap
#endif
@_spi(SoakPlant) import PageStore
import Synchronization
import SystemPackage
import SystemSupport

/// Serves a region's faults: missing pages (first touch or swap-in) and writes to
/// write-protected pages, from a SIGBUS handler on the faulting thread or from a handler thread.
///
/// ``serve(address:access:queueing:)`` is async-signal-safe: it allocates nothing, takes no
/// lock an application thread can hold (only the page's own lock bit, held solely by pager code
/// that never waits for the caller), uses a preallocated swap cache frame, and records latency
/// into preallocated buckets.
///
/// The seed's rules, as this path keeps them:
/// - a slot is freed on swap-in only after `UFFDIO_COPY` succeeded (never on EEXIST), through
///   the slot's use count (so never under another reader), and the page is then dirty;
/// - a never-touched page (`UFFDIO_ZEROPAGE` for a read, a copy of zeros for a write) is dirty
///   (it takes a write without a userfault);
/// - a lazily swapped-in page is mapped write-protected and its first write frees the stale
///   copy before the write proceeds;
/// - a read that fails (after the configured retries of an I/O error or checksum mismatch)
///   frees nothing, is counted, and the fault fails: SIGBUS on the faulting thread, or
///   `UFFDIO_POISON` + wake from a handler thread; never a zero or stale page. As with the
///   kernel's swap-in errors, only the failed access gets the SIGBUS: the next one reads the
///   slot again. (A poisoned page's marker is cleared in the SIGBUS the poison raises, see
///   ``clearPoison(address:)``, or by the next ``serve(address:access:queueing:)`` of it.)
///
/// File-tier reads (``SwapRegionConfiguration/FileReads/ioThreads(_:)``): when the backend says
/// a slot's read needs file I/O, the fault submits it to the region's ``FileReadQueue`` (a
/// preallocated request, no allocation), charges the page while the read is in flight (the
/// charge may evict a page), then waits on the request's futex in SIGBUS mode; a handler thread
/// instead leaves the completion (install, free, wake, or poison and wake) to whichever of it
/// and the I/O thread finishes last, and serves other faults meanwhile. The page stays locked and the slot keeps
/// the reader's reference until the completion, so the rules above hold unchanged.
final class FaultHandler: @unchecked Sendable {
    // @unchecked Sendable: all mutable state is atomics or owned by page locks; the handler
    // and I/O thread handles are touched only by start/stop on the owning region's thread.

    /// What the region's parts share.
    let region: RegionContext
    /// Evicts to make room for the pages faults install.
    let reclaimer: Reclaimer

    private let handlerThread = PagerThread(role: "fault handler thread")
    private var ioThreads: [NativeThread] = []

    /// The fault handler of the region `region` describes (no thread started).
    init(region: RegionContext, reclaimer: Reclaimer) {
        self.region = region
        self.reclaimer = reclaimer
    }

    /// What ``serve(address:access:queueing:)`` did with a fault.
    enum Outcome {
        /// The page is there (or another thread installed it): retry the access / wake.
        case handled
        /// The page cannot be provided: SIGBUS (or poison).
        case failed
        /// Handler-thread mode: an I/O thread reads the page and completes the fault (install
        /// or poison, then wake); the handler thread goes on with other faults.
        case queued
    }

    /// Whether a swap-in keeps the slot's copy (maps the page write-protected and clean).
    @inline(__always)
    private func keepsCopy(access: FaultAccess) -> Bool {
        switch region.policy {
        case .freeOnSwapIn:
            return false
        case .lazy:
            // A known write dirties the page at once: the copy would be stale (the kernel
            // frees the slot on a write swap-in too). vm_swap_full frees as well.
            return access != .write && !region.slots.isMoreThanHalfFull
        case .adaptive:
            return access != .write && !region.slots.isMoreThanHalfFull
                && region.counters.keptCopies.load(ordering: .relaxed) < SwapTuning.adaptiveKeptCopyLimit(limitPages: region.limitPages)
        }
    }

    /// Whether a swap-in that frees its copy still maps the page write-protected, so that its
    /// first write is seen (a reference the CLOCK hand would otherwise miss: userfaultfd reports
    /// no accessed bit). CLOCK only; not for a write, which dirties the page at once, nor for a
    /// page whose `credit` a write would not raise. Zipf 0.99 (1 GiB region, 256 MiB resident,
    /// 1M touches, 30% writes): 178,172 swap-ins without, 173,752 with (the kernel: 174,619),
    /// and 5.62 / 5.50 against 5.28 / 4.58 us per touch; uniform touches take ~15,000 more
    /// write faults per 300,000 (CPU per touch within the machine's noise, 1-3%).
    @inline(__always)
    private func watchesForWrites(access: FaultAccess, credit: UInt64) -> Bool {
        region.selection == .clock && access != .write && credit < SwapTuning.writeCredit
    }

    /// A fault that cannot be served: the page keeps `state` (nothing freed), the failure is
    /// counted, and the caller delivers SIGBUS. With `poisoning` (a handler thread serves the
    /// fault) a page that is not mapped is poisoned first, with its lock still held: the
    /// faulting thread, once woken, gets its SIGBUS from the marker.
    @inline(__always)
    private func failed(_ page: Int, restoring state: PageState, poisoning: Bool = false) -> Outcome {
        var kept = state
        if poisoning && state.kind != .resident {
            let result = Self.retryingWhileBusy { region.uffd.poison(region.address(ofPage: page), length: region.pageSize) }
            if result == nil {
                kept.isPoisoned = true
                region.counters.count(.poisonedFaults)
            }
        }
        region.table.unlock(page, to: kept)
        region.counters.count(.failedFaults)
        return .failed
    }

    /// Clears the poison marker of a locked page (`MADV_DONTNEED` empties its entry: the next
    /// access is a missing-page fault again, which reads the slot anew) and returns its state
    /// without the mark.
    @inline(__always)
    private func unpoison(_ page: Int, _ state: PageState) -> PageState {
        _ = cuswap_madvise(UnsafeMutableRawPointer(bitPattern: region.address(ofPage: page)), region.pageSize, MADV_DONTNEED)
        region.counters.count(.poisonsCleared)
        var cleared = state
        cleared.isPoisoned = false
        return cleared
    }

    /// An access hit a poisoned page (the SIGBUS trampoline, on the faulting thread, which
    /// receives its SIGBUS right after): if the pager poisoned that page, clears the marker so
    /// that the next access retries the read, and keeps the slot. A poisoned page the pager
    /// did not mark (a real memory error) is left alone. Async-signal-safe.
    func clearPoison(address: UInt) {
        guard address >= region.base, address < region.base + UInt(region.size) else { return }
        let page = region.page(containing: address)
        let state = region.table.lock(page)
        region.table.unlock(page, to: state.isPoisoned ? unpoison(page, state) : state)
    }

    /// Records a fault's latency from `start` (a `MonotonicClock` reading) until now.
    @inline(__always)
    private func recordLatency(since start: Int, fileBacked: Bool = false) {
        let elapsed = UInt64(truncatingIfNeeded: MonotonicClock.nanoseconds() &- start)
        region.latency.record(nanoseconds: elapsed)
        if fileBacked { region.fileLatency.record(nanoseconds: elapsed) }
    }

    /// Serves a fault at `address` (inside the region). Returns ``Outcome/failed`` when the
    /// page cannot be provided: the caller delivers SIGBUS (or poisons the page), as the kernel
    /// does on a swap-in I/O error. With `queueing` (handler-thread mode) a swap-in from the
    /// file tier is handed to an I/O thread whole and this returns ``Outcome/queued`` without
    /// waiting.
    func serve(address: UInt, access: FaultAccess, queueing: Bool = false) -> Outcome {
        let start = MonotonicClock.nanoseconds()
        let page = region.page(containing: address)
        let pageAddress = region.address(ofPage: page)
        let uffd = region.uffd
        if queueing, let queue = region.queue, region.table.load(page).isLocked, queue.isInFlight(page: page) {
            // A second fault on a page whose read is in flight: the faulting thread already
            // sleeps on the page, and the completion's UFFDIO_WAKE wakes every thread sleeping
            // on it. Nothing to serve, no wake now (it would only fault again), no waiting.
            return .queued
        }
        region.counters.count(.faults)
        var state = region.table.lock(page)
        // A page left poisoned by a failed swap-in (prefault, or an access that raced the
        // marker's clearing): its entry must be empty again before anything is installed.
        if state.isPoisoned { state = unpoison(page, state) }

        switch state.kind {
        case .resident:
            guard access != .read else {
                // Another thread installed the page (or a read raced a write-protect): retry.
                region.table.unlock(page, to: state)
                return .handled
            }
            guard state.isWriteProtected else {
                // A write fault on a page the pager maps writable: a batched eviction's span
                // protection covered it (or another thread installed it first). Lift it; the
                // page is in use.
                let result = uffd.writeProtect(pageAddress, length: region.pageSize, enable: false, wake: false)
                var written = state
                written.credit = max(state.credit, SwapTuning.writeCredit)
                region.table.unlock(page, to: written)
                if result != nil {
                    region.counters.count(.failedFaults)
                    return .failed
                }
                region.counters.count(.spanProtectFaults)
                return .handled
            }
            // A write to a write-protected page (clean, or watched since its swap-in): it is in
            // use, and dirty; a copy it kept is stale.
            // No wake here: a handler thread wakes the faulting thread after the state is published.
            if uffd.writeProtect(pageAddress, length: region.pageSize, enable: false, wake: false) != nil {
                return failed(page, restoring: state)
            }
            var next = state
            next.isWriteProtected = false
            next.isDirty = true
            next.credit = max(state.credit, SwapTuning.writeCredit)
            if state.hasSlot {
                next.hasSlot = false
                next.slot = 0
                reclaimer.dropReference(state.slot, asking: .discard)
                region.counters.keptCopies.subtract(1, ordering: .relaxed)
            }
            region.table.unlock(page, to: next)
            region.counters.count(.writeProtectFaults)
            recordLatency(since: start)
            return .handled

        case .empty:
            guard reclaimer.charge() else {
                return failed(page, restoring: state, poisoning: queueing)
            }
            // A write gets a zeroed page of its own at once, as the kernel's do_anonymous_page
            // does: the shared zero page would take a second fault and a TLB flush to copy.
            // A read (or an access the kernel did not describe) maps the shared zero page.
            let result = access == .write
                ? Self.retryingWhileBusy {
                    uffd.copy(to: pageAddress, from: region.cache.zeroPage, length: region.pageSize, writeProtected: false, wake: false)
                }
                : Self.retryingWhileBusy { uffd.zeropage(at: pageAddress, length: region.pageSize, wake: false) }
            if let error = result, error != .fileExists {
                reclaimer.uncharge()
                return failed(page, restoring: state, poisoning: queueing)
            }
            if result == .fileExists { region.counters.count(.copyExists) }
            // Either page takes a write without a userfault: it is dirty from the start.
            var next = PageState.residentDirty()
            next.credit = SwapTuning.faultCredit
            region.table.unlock(page, to: next)
            region.counters.count(.zeroPageFills)
            recordLatency(since: start)
            return .handled

        case .swapped:
            return swapIn(page: page, pageAddress: pageAddress, state: state, access: access, start: start, queueing: queueing)

        case .cached:
            return refault(page: page, pageAddress: pageAddress, state: state, start: start, queueing: queueing)
        }
    }

    /// Installs a cached page (locked) from its victim cache frame: no read, no decompression.
    /// The frame stays the page's until it is installed (an evictor needs the page's lock to
    /// push it out), and is emptied once it is. The page comes back dirty with the credit of a
    /// short refault: it was in use while its credit ran out.
    @inline(__always)
    private func refault(page: Int, pageAddress: UInt, state: PageState, start: Int, queueing: Bool) -> Outcome {
        guard reclaimer.charge() else {
            return failed(page, restoring: state, poisoning: queueing)
        }
        let source = region.victims.address(ofStamp: state.stamp)
        let result = Self.retryingWhileBusy {
            region.uffd.copy(to: pageAddress, from: source, length: region.pageSize, writeProtected: false, wake: false)
        }
        if let error = result, error != .fileExists {
            reclaimer.uncharge()
            return failed(page, restoring: state, poisoning: queueing)
        }
        // EEXIST: someone else mapped the page; what is mapped stays, as a swap-in's does.
        if result == .fileExists { region.counters.count(.copyExists) }
        region.victims.empty(page: page, stamp: state.stamp)
        var next = state
        next.kind = .resident
        next.credit = SwapTuning.refaultCredit
        region.table.unlock(page, to: next)
        region.counters.count(.victimCacheHits)
        recordLatency(since: start)
        return .handled
    }

    /// Runs a userfaultfd operation again while it fails with EAGAIN (the kernel saw the
    /// address space change under it); returns its final result.
    @inline(__always)
    private static func retryingWhileBusy(_ operation: () -> Errno?) -> Errno? {
        var result = operation()
        while result == .resourceTemporarilyUnavailable { result = operation() }
        return result
    }

    // MARK: Swap-in

    /// Reads `state.slot` (locked page, swapped) and installs it. With I/O threads and a slot
    /// in the file tier, the read is submitted first and the charge (which may evict a page)
    /// runs while it is in flight; `queueing` hands the whole completion to the I/O thread.
    @inline(__always)
    private func swapIn(page: Int, pageAddress: UInt, state: PageState, access: FaultAccess, start: Int,
                        queueing: Bool) -> Outcome {
        let slot = state.slot
        var request = FileReadQueue.Request(page: page, pageAddress: pageAddress, state: state, access: access, start: start)
        request.poisonsOnFailure = queueing
        let needsIO = region.readsOffHandler || region.backend.readNeedsIO(at: slot)
        if needsIO, let queue = region.queue, let index = region.readsOffHandler ? Self.reserveWaiting(queue) : queue.reserve() {
            region.slots.retain(slot)  // the reader's reference: the slot outlives this read
            request.frame = region.cache.acquire()
            request.completesOnIOThread = queueing
            queue.submit(index, request)
            region.counters.count(.fileReads)
            // The work this fault does anyway, while the disk works.
            let charged = reclaimer.charge()
            if queueing {
                queue.setCharged(index, charged)
                guard queue.arrive(index) else { return .queued }
                // The read finished first: complete here (no waiting).
                return finishQueued(index)
            }
            let (ok, slept) = queue.wait(index)
            queue.release(index)
            if slept { region.counters.count(.fileReadWaits) }
            return finishSwapIn(request, readSucceeded: ok, charged: charged, fileBacked: true)
        }
        guard reclaimer.charge() else {
            return failed(page, restoring: state, poisoning: queueing)
        }
        region.slots.retain(slot)  // the reader's reference: the slot outlives this read
        request.frame = region.cache.acquire()
        if needsIO { region.counters.count(.inlineFileReads) }
        let ok = read(slot, into: region.cache.frame(request.frame))
        return finishSwapIn(request, readSucceeded: ok, charged: true, fileBacked: needsIO)
    }

    /// A request slot of `queue`, yielding while every one is in flight (the backend's reads
    /// must not run inline in the SIGBUS handler). Async-signal-safe.
    @inline(__always)
    private static func reserveWaiting(_ queue: FileReadQueue) -> Int? {
        while true {
            if let index = queue.reserve() { return index }
            NativeThread.yield()
        }
    }

    /// Reads a slot, retrying an I/O error or a checksum mismatch as many times as the region
    /// allows, after a short pause each. Every failed attempt counts in `failedReads`, every
    /// retry in `readRetries`. Returns whether the buffer holds the page.
    @inline(__always)
    func read(_ slot: Int, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        var attempt = 0
        while true {
            do {
                try region.backend.readPage(at: slot, into: buffer)
                return true
            } catch {
                region.counters.count(.failedReads)
                let retryable: Bool
                switch error {
                case .io, .corrupt: retryable = true
                default: retryable = false
                }
                guard retryable, attempt < region.readRetries else { return false }
                attempt += 1
                region.counters.count(.readRetries)
                // nanosleep: async-signal-safe, resumed after signals until the pause is over.
                sleepMicroseconds(region.readRetryPauseMicroseconds)
            }
        }
    }

    /// Completes a queued request on the thread that arrived last (handler-thread mode):
    /// installs the page or fails it, releases the request. Returns whether the page is there.
    private func finishQueued(_ index: Int) -> Outcome {
        guard let queue = region.queue else { return .failed }
        let request = queue.request(index)
        let ok = queue.succeeded(index)
        let charged = queue.charged(index)
        queue.release(index)
        return finishSwapIn(request, readSucceeded: ok, charged: charged, fileBacked: true)
    }

    /// The second half of a swap-in, after the read into `request.frame`: installs the page
    /// with `UFFDIO_COPY` and only then lets the copy go (never on EEXIST); or, when the read
    /// or the charge failed, frees nothing and fails the fault. Releases the frame and the
    /// reader's reference, unlocks the page. Returns whether the page is there.
    private func finishSwapIn(_ request: FileReadQueue.Request, readSucceeded: Bool, charged: Bool,
                              fileBacked: Bool) -> Outcome {
        let page = request.page, state = request.state, slot = state.slot, frame = request.frame
        guard readSucceeded, charged else {
            // Nothing is freed; the page stays swapped; the thread gets SIGBUS.
            region.cache.release(frame)
            reclaimer.dropReference(slot, asking: nil)
            #if DEBUG
            // A soak's planted bug (PageStore's PlantedBug): the copy goes though nothing was installed.
            if PlantedBug.isPlanted(.slotFreedEarly) { reclaimer.dropReference(slot, asking: .notify) }
            #endif
            if charged { reclaimer.uncharge() }
            return failed(page, restoring: state, poisoning: request.poisonsOnFailure)
        }
        let source = UnsafeRawPointer(region.cache.frame(frame).baseAddress!)
        // Credit: several passes when the page refaulted within one resident-set's worth of
        // evictions (it would have stayed with a little more room), none otherwise (probation).
        let now = reclaimer.evictions.load(ordering: .relaxed) % PageState.stampModulus
        let distance = (now &+ PageState.stampModulus &- state.stamp) % PageState.stampModulus
        let credit = distance < UInt64(region.limitPages) ? SwapTuning.refaultCredit : SwapTuning.distantRefaultCredit
        let keep = keepsCopy(access: request.access)
        let watch = !keep && watchesForWrites(access: request.access, credit: credit)
        // No wake: in SIGBUS mode nobody sleeps on the page; a handler thread (or the I/O
        // thread completing for it) wakes the faulting thread once the page's state is published.
        let result = Self.retryingWhileBusy {
            region.uffd.copy(to: request.pageAddress, from: source, length: region.pageSize, writeProtected: keep || watch, wake: false)
        }
        region.cache.release(frame)
        switch result {
        case nil:
            // Installed. Only now may the copy go.
            reclaimer.dropReference(slot, asking: nil)
            var next = PageState.empty
            next.kind = .resident
            next.credit = credit
            if keep {
                next.isWriteProtected = true
                next.hasSlot = true
                next.slot = slot
                region.counters.keptCopies.add(1, ordering: .relaxed)
                region.table.unlock(page, to: next)
            } else {
                next.isDirty = true
                next.isWriteProtected = watch
                region.table.unlock(page, to: next)
                reclaimer.dropReference(slot, asking: .notify)
            }
            region.counters.count(.swapIns)
            recordLatency(since: request.start, fileBacked: fileBacked)
            return .handled
        case .fileExists?:
            // Someone else mapped the page: never free on EEXIST. Keep the slot (freed when
            // the page is evicted again) and treat the unknown contents as dirty.
            reclaimer.dropReference(slot, asking: nil)
            var next = PageState.residentDirty()
            next.hasSlot = true
            next.slot = slot
            next.credit = credit
            region.counters.keptCopies.add(1, ordering: .relaxed)
            region.table.unlock(page, to: next)
            region.counters.count(.copyExists)
            return .handled
        case .some:
            reclaimer.dropReference(slot, asking: nil)
            reclaimer.uncharge()
            return failed(page, restoring: state, poisoning: request.poisonsOnFailure)
        }
    }

    // MARK: Handler thread mode

    /// Starts a thread that reads fault messages from the userfaultfd and serves them.
    func startThread() throws(SwapError) {
        try handlerThread.start { [self] in threadLoop() }
    }

    /// Stops the handler thread and waits for it (its poll times out to notice).
    func stopThread() {
        handlerThread.stop()
    }

    private func threadLoop() {
        let fd = region.uffd.fd
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while handlerThread.isRunning {
            let ready = poll(&descriptor, 1, SwapTuning.handlerPollMilliseconds)
            if ready <= 0 { continue }
            while true {
                var address: UInt64 = 0
                var flags: UInt64 = 0
                let rc = cuswap_uffd_read_fault(fd, &address, &flags)
                if rc < 0 { break }  // EAGAIN: drained
                if rc == 0 { continue }
                let pageAddress = UInt(address) & ~UInt(region.pageSize - 1)
                // Installed, or failed and poisoned (the woken thread gets SIGBUS): wake.
                if serve(address: UInt(address), access: FaultAccess(messageFlags: flags), queueing: true) != .queued {
                    wake(pageAddress)
                }
            }
        }
    }

    /// Handler-thread mode: wakes the threads waiting on a page once it is installed, or once
    /// a failed fault poisoned it (their access then raises SIGBUS, as the kernel's does on a
    /// swap-in I/O error).
    private func wake(_ pageAddress: UInt) {
        _ = region.uffd.wake(pageAddress, length: region.pageSize)
    }

    // MARK: I/O threads

    /// Starts `count` threads that perform the queued file reads.
    func startIOThreads(count: Int) throws(SwapError) {
        guard region.queue != nil else { return }
        ioThreads.reserveCapacity(count)
        for _ in 0..<count {
            do {
                ioThreads.append(try NativeThread.start { [self] in
                    cuswap_block_async_signals()
                    ioThreadLoop()
                })
            } catch {
                throw .systemCall("pthread_create (file read thread)", errno: error)
            }
        }
    }

    /// Lets the I/O threads finish every submitted read, then waits for them.
    func stopIOThreads() {
        guard let queue = region.queue, !ioThreads.isEmpty else { return }
        queue.stop()
        for thread in ioThreads { thread.join() }
        ioThreads.removeAll()
    }

    private func ioThreadLoop() {
        guard let queue = region.queue else { return }
        while let index = queue.next() {
            let request = queue.request(index)
            let ok = read(request.slot, into: region.cache.frame(request.frame))
            if request.completesOnIOThread {
                queue.setSucceeded(index, ok)
                // The handler thread may still be charging; whoever is last completes.
                guard queue.arrive(index) else { continue }
                region.counters.count(.fileReadWaits)
                _ = finishQueued(index)
                wake(request.pageAddress)
            } else {
                queue.complete(index, succeeded: ok)
            }
        }
    }
}
