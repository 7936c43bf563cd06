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
///   copy before the write proceeds.
final class FaultHandler: @unchecked Sendable {
    // @unchecked Sendable: all mutable state is atomics or owned by page locks; the handler
    // thread handle is touched only by start/stop on the owning region's thread.
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

    private let running = Atomic<Bool>(false)
    private var thread: pthread_t?

    init(base: UInt, size: Int, pageSize: Int, table: PageStateTable, slots: SwapSlots, cache: SwapCache,
         backend: any SwapBackend, uffd: Userfaultfd, counters: SwapCounters, latency: LatencyHistogram,
         reclaimer: Reclaimer, policy: SlotPolicy, limitPages: Int) {
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
    /// counted, and the caller delivers SIGBUS. Returns false for the caller to pass on.
    @inline(__always)
    private func failed(_ page: Int, restoring state: PageState) -> Bool {
        table.unlock(page, to: state)
        counters.failedFaults.add(1, ordering: .relaxed)
        return false
    }

    /// Serves a fault at `address` (inside the region). `access` is `CUSWAP_ACCESS_READ`,
    /// `_WRITE` or `_UNKNOWN`. Returns false when the page cannot be provided: the caller
    /// delivers SIGBUS (or poisons the page), as the kernel does on a swap-in I/O error.
    func service(address: UInt, access: Int32) -> Bool {
        let start = cuswap_now_ns()
        let page = Int((address - base) >> UInt(pageShift))
        let pageAddress = base + UInt(page << pageShift)
        counters.faults.add(1, ordering: .relaxed)
        let state = table.lock(page)

        switch state.kind {
        case .resident:
            guard state.isWriteProtected, access != CUSWAP_ACCESS_READ else {
                // Another thread installed the page (or a read raced a write-protect): retry.
                table.unlock(page, to: state)
                return true
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
            return true

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
            return true

        case .swapped:
            guard reclaimer.charge() else {
                return failed(page, restoring: state)
            }
            let slot = state.slot
            slots.retain(slot)  // the reader's reference: the slot outlives this read
            let frame = cache.acquire()
            let buffer = cache.frame(frame)
            do {
                try backend.readPage(at: slot, into: buffer)
            } catch {
                // Nothing is freed; the page stays swapped; the thread gets SIGBUS.
                cache.release(frame)
                reclaimer.dropReference(slot, asking: nil)
                reclaimer.uncharge()
                return failed(page, restoring: state)
            }
            let keep = keepsCopy(access: access)
            // No wake: in SIGBUS mode nobody sleeps on the page; a handler thread wakes the
            // faulting thread once the page's state is published.
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
                latency.record(nanoseconds: cuswap_now_ns() &- start)
                return true
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
                return true
            case .some:
                reclaimer.dropReference(slot, asking: nil)
                reclaimer.uncharge()
                return failed(page, restoring: state)
            }
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
                if service(address: UInt(address), access: access) {
                    _ = uffd.wake(pageAddress, length: pageSize)
                } else {
                    // Deliver the error as the kernel would: the access raises SIGBUS.
                    _ = uffd.poison(pageAddress, length: pageSize)
                    _ = uffd.wake(pageAddress, length: pageSize)
                }
            }
        }
    }
}
