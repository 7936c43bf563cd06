#if os(Linux)
import CUSwap
import Glibc
#endif
import PageStore
import Synchronization
import SystemPackage

/// Serves a region's faults: missing pages (first touch or swap-in) and writes to
/// write-protected pages, from a SIGBUS handler on the faulting thread or from a handler thread.
///
/// ``service(address:access:)`` is async-signal-safe: it allocates nothing, takes no lock an
/// application thread can hold (only the page's own lock bit, held solely by pager code that
/// never waits for the caller), uses a preallocated swap cache frame, and records latency into
/// preallocated buckets.
///
/// The seed's rules, as this path keeps them:
/// - a slot is freed on swap-in only after `UFFDIO_COPY` succeeded (never on EEXIST), through
///   the slot's use count (so never under another reader), and the page is then dirty;
/// - a page installed with `UFFDIO_ZEROPAGE` is dirty (it is writable without a fault);
/// - a lazily swapped-in page is mapped write-protected and its first write frees the stale
///   copy before the write proceeds;
/// - a read that fails (after ``readRetries`` retries of an I/O error or checksum mismatch)
///   frees nothing, is counted, and the fault fails: SIGBUS on the faulting thread, or
///   `UFFDIO_POISON` + wake from a handler thread; never a zero or stale page.
///
/// File-tier reads (``SwapRegionConfiguration/FileReads/ioThreads(_:)``): when the backend says
/// a slot's read needs file I/O, the fault submits it to ``queue`` (a preallocated request, no
/// allocation), charges the page while the read is in flight (the charge may evict a page),
/// then waits on the request's futex in SIGBUS mode; a handler thread instead leaves the
/// completion (install, free, wake, or poison and wake) to whichever of it and the I/O thread
/// finishes last, and serves other faults meanwhile. The page stays locked and the slot keeps
/// the reader's reference until the completion, so the rules above hold unchanged.
final class FaultHandler: @unchecked Sendable {
    // @unchecked Sendable: all mutable state is atomics or owned by page locks; the handler
    // and I/O thread handles are touched only by start/stop on the owning region's thread.
    let base: UInt
    let size: Int
    let pageSize: Int
    let pageShift: Int
    let table: PageStateTable
    let slots: SwapSlots
    let cache: SwapCache
    let backend: any SwapBackend
    let uffd: Userfaultfd
    let counters: SwapCounters
    let latency: LatencyHistogram
    let reclaimer: Reclaimer
    let policy: SlotPolicy
    let limitPages: Int
    /// Swap-ins whose read needed file I/O (a subset of ``latency``'s samples).
    let fileLatency: LatencyHistogram
    /// The I/O threads' requests, or nil when file reads run inline.
    let queue: FileReadQueue?
    /// How many times a failed read is tried again.
    let readRetries: Int
    /// The pause before each retry.
    let retryPauseNanoseconds: Int

    private let running = Atomic<Bool>(false)
    private var thread: pthread_t?
    private var ioThreads: [pthread_t] = []

    init(base: UInt, size: Int, pageSize: Int, table: PageStateTable, slots: SwapSlots, cache: SwapCache,
         backend: any SwapBackend, uffd: Userfaultfd, counters: SwapCounters, latency: LatencyHistogram,
         fileLatency: LatencyHistogram, reclaimer: Reclaimer, policy: SlotPolicy, limitPages: Int,
         queue: FileReadQueue?, readRetries: Int, retryPauseNanoseconds: Int) {
        self.fileLatency = fileLatency
        self.queue = queue
        self.readRetries = readRetries
        self.retryPauseNanoseconds = retryPauseNanoseconds
        self.base = base
        self.size = size
        self.pageSize = pageSize
        self.pageShift = pageSize.trailingZeroBitCount
        self.table = table
        self.slots = slots
        self.cache = cache
        self.backend = backend
        self.uffd = uffd
        self.counters = counters
        self.latency = latency
        self.reclaimer = reclaimer
        self.policy = policy
        self.limitPages = limitPages
    }

    /// Whether a swap-in keeps the slot's copy (maps the page write-protected and clean).
    @inline(__always)
    private func keepsCopy(access: Int32) -> Bool {
        switch policy {
        case .freeOnSwapIn:
            return false
        case .lazy:
            // A known write dirties the page at once: the copy would be stale (the kernel
            // frees the slot on a write swap-in too). vm_swap_full frees as well.
            return access != CUSWAP_ACCESS_WRITE && !slots.isMoreThanHalfFull
        case .adaptive:
            return access != CUSWAP_ACCESS_WRITE && !slots.isMoreThanHalfFull
                && counters.keptCopies.load(ordering: .relaxed) < limitPages / 4
        }
    }

    /// A fault that cannot be served: the page keeps `state` (nothing freed), the failure is
    /// counted, and the caller delivers SIGBUS (or poisons the page).
    @inline(__always)
    private func failed(_ page: Int, restoring state: PageState) -> Outcome {
        table.unlock(page, to: state)
        counters.failedFaults.add(1, ordering: .relaxed)
        return .failed
    }

    /// Serves a fault at `address` (inside the region). `access` is `CUSWAP_ACCESS_READ`,
    /// `_WRITE` or `_UNKNOWN`. Returns false when the page cannot be provided: the caller
    /// delivers SIGBUS (or poisons the page), as the kernel does on a swap-in I/O error.
    func service(address: UInt, access: Int32) -> Bool {
        serve(address: address, access: access, queueing: false) != .failed
    }

    /// Serves a fault; with `queueing` (handler-thread mode) a swap-in from the file tier is
    /// handed to an I/O thread whole and this returns ``Outcome/queued`` without waiting.
    func serve(address: UInt, access: Int32, queueing: Bool) -> Outcome {
        let start = cuswap_now_ns()
        let page = Int((address - base) >> UInt(pageShift))
        let pageAddress = base + UInt(page << pageShift)
        if queueing, let queue, table.load(page).isLocked, queue.isInFlight(page: page) {
            // A second fault on a page whose read is in flight: the faulting thread already
            // sleeps on the page, and the completion's UFFDIO_WAKE wakes every thread sleeping
            // on it. Nothing to serve, no wake now (it would only fault again), no waiting.
            return .queued
        }
        counters.faults.add(1, ordering: .relaxed)
        let state = table.lock(page)

        switch state.kind {
        case .resident:
            guard state.isWriteProtected, access != CUSWAP_ACCESS_READ else {
                // Another thread installed the page (or a read raced a write-protect): retry.
                table.unlock(page, to: state)
                return .handled
            }
            // A write to a clean, write-protected page: it becomes dirty, the copy stale.
            // No wake here: a handler thread wakes the faulting thread after the state is published.
            if uffd.writeProtect(pageAddress, length: pageSize, enable: false, wake: false) != nil {
                return failed(page, restoring: state)
            }
            var next = state
            next.isWriteProtected = false
            next.isDirty = true
            next.credit = state.credit + 1
            if state.hasSlot {
                next.hasSlot = false
                next.slot = 0
                reclaimer.dropReference(state.slot, asking: .discard)
                counters.keptCopies.subtract(1, ordering: .relaxed)
            }
            table.unlock(page, to: next)
            counters.writeProtectFaults.add(1, ordering: .relaxed)
            latency.record(nanoseconds: cuswap_now_ns() &- start)
            return .handled

        case .empty:
            guard reclaimer.charge() else {
                return failed(page, restoring: state)
            }
            var result = uffd.zeropage(at: pageAddress, length: pageSize, wake: false)
            while result == .resourceTemporarilyUnavailable { result = uffd.zeropage(at: pageAddress, length: pageSize, wake: false) }
            if let error = result, error != .fileExists {
                reclaimer.uncharge()
                return failed(page, restoring: state)
            }
            if result == .fileExists { counters.copyExists.add(1, ordering: .relaxed) }
            // The zero page is writable without a fault: it is dirty from the start.
            var next = PageState.residentDirty()
            next.credit = 1
            table.unlock(page, to: next)
            counters.zeroPageFills.add(1, ordering: .relaxed)
            latency.record(nanoseconds: cuswap_now_ns() &- start)
            return .handled

        case .swapped:
            return swapIn(page: page, pageAddress: pageAddress, state: state, access: access, start: start, queueing: queueing)
        }
    }

    // MARK: Swap-in

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

    /// Reads `state.slot` (locked page, swapped) and installs it. With I/O threads and a slot
    /// in the file tier, the read is submitted first and the charge (which may evict a page)
    /// runs while it is in flight; `queueing` hands the whole completion to the I/O thread.
    @inline(__always)
    private func swapIn(page: Int, pageAddress: UInt, state: PageState, access: Int32, start: UInt64,
                        queueing: Bool = false) -> Outcome {
        let slot = state.slot
        let needsIO = backend.readNeedsIO(at: slot)
        if needsIO, let queue, let index = queue.reserve() {
            slots.retain(slot)  // the reader's reference: the slot outlives this read
            let frame = cache.acquire()
            var request = FileReadQueue.Request()
            request.page = page
            request.pageAddress = pageAddress
            request.slot = slot
            request.frame = frame
            request.access = access
            request.state = state
            request.start = start
            request.completesOnIOThread = queueing
            queue.submit(index, request)
            counters.fileReads.add(1, ordering: .relaxed)
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
            if slept { counters.fileReadWaits.add(1, ordering: .relaxed) }
            return finishSwapIn(page: page, pageAddress: pageAddress, state: state, frame: frame, access: access,
                                start: start, readSucceeded: ok, charged: charged, fileBacked: true)
        }
        guard reclaimer.charge() else {
            return failed(page, restoring: state)
        }
        slots.retain(slot)  // the reader's reference: the slot outlives this read
        let frame = cache.acquire()
        if needsIO { counters.inlineFileReads.add(1, ordering: .relaxed) }
        let ok = read(slot, into: cache.frame(frame))
        return finishSwapIn(page: page, pageAddress: pageAddress, state: state, frame: frame, access: access,
                            start: start, readSucceeded: ok, charged: true, fileBacked: needsIO)
    }

    /// Reads a slot, retrying an I/O error or a checksum mismatch ``readRetries`` times with a
    /// short pause. Every failed attempt counts in `failedReads`, every retry in `readRetries`.
    /// Returns whether the buffer holds the page.
    @inline(__always)
    func read(_ slot: Int, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        var attempt = 0
        while true {
            do {
                try backend.readPage(at: slot, into: buffer)
                return true
            } catch {
                counters.failedReads.add(1, ordering: .relaxed)
                let retryable: Bool
                switch error {
                case .io, .corrupt: retryable = true
                default: retryable = false
                }
                guard retryable, attempt < readRetries else { return false }
                attempt += 1
                counters.readRetries.add(1, ordering: .relaxed)
                if retryPauseNanoseconds > 0 {
                    var request = timespec(tv_sec: retryPauseNanoseconds / 1_000_000_000, tv_nsec: retryPauseNanoseconds % 1_000_000_000)
                    var left = timespec()
                    while nanosleep(&request, &left) != 0 && errno == EINTR { request = left }
                }
            }
        }
    }

    /// Completes a queued request on the thread that arrived last (handler-thread mode):
    /// installs the page or fails it, releases the request. Returns whether the page is there.
    private func finishQueued(_ index: Int) -> Outcome {
        guard let queue else { return .failed }
        let r = queue.request(index)
        let ok = queue.succeeded(index)
        let charged = queue.charged(index)
        queue.release(index)
        return finishSwapIn(page: r.page, pageAddress: r.pageAddress, state: r.state, frame: r.frame, access: r.access,
                            start: r.start, readSucceeded: ok, charged: charged, fileBacked: true)
    }

    /// The second half of a swap-in, after the read: installs the page from the frame with
    /// `UFFDIO_COPY` and only then lets the copy go (never on EEXIST); or, when the read or the
    /// charge failed, frees nothing and fails the fault. Releases the frame and the reader's
    /// reference, unlocks the page. Returns whether the page is there.
    private func finishSwapIn(page: Int, pageAddress: UInt, state: PageState, frame: Int, access: Int32, start: UInt64,
                              readSucceeded: Bool, charged: Bool, fileBacked: Bool) -> Outcome {
        let slot = state.slot
        guard readSucceeded, charged else {
            // Nothing is freed; the page stays swapped; the thread gets SIGBUS.
            cache.release(frame)
            reclaimer.dropReference(slot, asking: nil)
            if charged { reclaimer.uncharge() }
            return failed(page, restoring: state)
        }
        let buffer = cache.frame(frame)
        let keep = keepsCopy(access: access)
        // No wake: in SIGBUS mode nobody sleeps on the page; a handler thread (or the I/O
        // thread completing for it) wakes the faulting thread once the page's state is published.
        var result = uffd.copy(to: pageAddress, from: UnsafeRawPointer(buffer.baseAddress!), length: pageSize, writeProtected: keep, wake: false)
        while result == .resourceTemporarilyUnavailable {
            result = uffd.copy(to: pageAddress, from: UnsafeRawPointer(buffer.baseAddress!), length: pageSize, writeProtected: keep, wake: false)
        }
        cache.release(frame)
        // Credit: one pass for faulting in, two more when the page refaulted within one
        // resident-set's worth of evictions (it would have stayed with a little more room).
        let now = reclaimer.evictions.load(ordering: .relaxed) % PageState.stampModulus
        let distance = (now &+ PageState.stampModulus &- state.stamp) % PageState.stampModulus
        let credit: UInt64 = distance < UInt64(limitPages) ? 3 : 1
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
                counters.keptCopies.add(1, ordering: .relaxed)
                table.unlock(page, to: next)
            } else {
                next.isDirty = true
                table.unlock(page, to: next)
                reclaimer.dropReference(slot, asking: .notify)
            }
            counters.swapIns.add(1, ordering: .relaxed)
            let elapsed = cuswap_now_ns() &- start
            latency.record(nanoseconds: elapsed)
            if fileBacked { fileLatency.record(nanoseconds: elapsed) }
            return .handled
        case .fileExists?:
            // Someone else mapped the page: never free on EEXIST. Keep the slot (freed when
            // the page is evicted again) and treat the unknown contents as dirty.
            reclaimer.dropReference(slot, asking: nil)
            var next = PageState.residentDirty()
            next.hasSlot = true
            next.slot = slot
            next.credit = credit
            counters.keptCopies.add(1, ordering: .relaxed)
            table.unlock(page, to: next)
            counters.copyExists.add(1, ordering: .relaxed)
            return .handled
        case .some:
            reclaimer.dropReference(slot, asking: nil)
            reclaimer.uncharge()
            return failed(page, restoring: state)
        }
    }

    // MARK: Handler thread mode

    /// Starts a thread that reads fault messages from the userfaultfd and serves them.
    func startThread() throws(SwapError) {
        running.store(true, ordering: .releasing)
        var t = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&t, nil, { raw in
            let me = Unmanaged<FaultHandler>.fromOpaque(raw!).takeRetainedValue()
            me.threadLoop()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<FaultHandler>.fromOpaque(context).release()
            running.store(false, ordering: .releasing)
            throw .systemCall("pthread_create (fault handler thread)", errno: .init(rawValue: rc))
        }
        thread = t
    }

    /// Stops the handler thread and waits for it.
    func stopThread() {
        guard let t = thread else { return }
        running.store(false, ordering: .releasing)
        pthread_join(t, nil)
        thread = nil
    }

    private func threadLoop() {
        var descriptor = pollfd(fd: uffd.fd, events: Int16(POLLIN), revents: 0)
        while running.load(ordering: .acquiring) {
            let ready = poll(&descriptor, 1, 50)
            if ready <= 0 { continue }
            while true {
                var address: UInt64 = 0
                var flags: UInt64 = 0
                let rc = cuswap_uffd_read_fault(uffd.fd, &address, &flags)
                if rc < 0 { break }  // EAGAIN: drained
                if rc == 0 { continue }
                let access: Int32 = flags & (cuswap_pagefault_flag_write | cuswap_pagefault_flag_wp) != 0
                    ? CUSWAP_ACCESS_WRITE : CUSWAP_ACCESS_READ
                let pageAddress = UInt(address) & ~UInt(pageSize - 1)
                switch serve(address: UInt(address), access: access, queueing: true) {
                case .handled: deliver(pageAddress, installed: true)
                case .failed: deliver(pageAddress, installed: false)
                case .queued: break  // the I/O thread completes it
                }
            }
        }
    }

    /// Handler-thread mode: wakes the threads waiting on a page once it is installed, or
    /// delivers the error as the kernel would (the access raises SIGBUS) when it cannot be.
    private func deliver(_ pageAddress: UInt, installed: Bool) {
        if !installed { _ = uffd.poison(pageAddress, length: pageSize) }
        _ = uffd.wake(pageAddress, length: pageSize)
    }

    // MARK: I/O threads

    /// Starts `count` threads that perform the queued file reads.
    func startIOThreads(count: Int) throws(SwapError) {
        guard queue != nil else { return }
        ioThreads.reserveCapacity(count)
        for _ in 0..<count {
            var t = pthread_t()
            let context = Unmanaged.passRetained(self).toOpaque()
            let rc = pthread_create(&t, nil, { raw in
                let me = Unmanaged<FaultHandler>.fromOpaque(raw!).takeRetainedValue()
                cuswap_block_async_signals()
                me.ioThreadLoop()
                return nil
            }, context)
            if rc != 0 {
                Unmanaged<FaultHandler>.fromOpaque(context).release()
                throw .systemCall("pthread_create (file read thread)", errno: .init(rawValue: rc))
            }
            ioThreads.append(t)
        }
    }

    /// Lets the I/O threads finish every submitted read, then waits for them.
    func stopIOThreads() {
        guard let queue, !ioThreads.isEmpty else { return }
        queue.stop()
        for t in ioThreads { pthread_join(t, nil) }
        ioThreads.removeAll()
    }

    private func ioThreadLoop() {
        guard let queue else { return }
        while let index = queue.next() {
            let r = queue.request(index)
            let ok = read(r.slot, into: cache.frame(r.frame))
            if r.completesOnIOThread {
                queue.setSucceeded(index, ok)
                // The handler thread may still be charging; whoever is last completes.
                guard queue.arrive(index) else { continue }
                counters.fileReadWaits.add(1, ordering: .relaxed)
                deliver(r.pageAddress, installed: finishQueued(index) == .handled)
            } else {
                queue.complete(index, succeeded: ok)
            }
        }
    }
}
