#if os(Linux)
import CUSwap
import Glibc
#endif
import PageStore
import Synchronization

/// Evicts cold pages to the backend so that a region stays within its resident limit, and
/// keeps the charge: the count of pages mapped in the region plus the pager's uncompressed
/// copies, which never exceeds the limit.
///
/// Victims: a CLOCK hand sweeps the page table. In ``SwapRegionConfiguration/VictimSelection/clock``
/// mode a resident page's credit (earned by faulting in, by a write after a lazy swap-in, and
/// twice by a refault soon after its eviction) is spent one pass at a time before the page can
/// be evicted; in ``SwapRegionConfiguration/VictimSelection/fifo`` mode credits are ignored.
///
/// Eviction of a dirty page, by move (the default where the kernel has `UFFDIO_MOVE`): move the
/// page out of the region into a staging slot (one ioctl; the region's entry is empty from then
/// on), compress it from there into a new slot, publish it as swapped; staging slots are
/// emptied in batches with one `MADV_DONTNEED` per run and stay charged until then. By write
/// protection: write-protect the page, compress it straight from the region, `MADV_DONTNEED`
/// it. Either way a write landing meanwhile completes before the move or the protection (and
/// is compressed) or traps and waits for the page lock, then swaps the page back in. Eviction of a clean page (lazy copy still in its slot) is a drop:
/// `MADV_DONTNEED` only, no compression.
///
/// Reclaim never waits for a page lock (it skips locked pages), so it may run inside a fault
/// handler that holds the faulting page's lock.
final class Reclaimer: @unchecked Sendable {
    // @unchecked Sendable: shared state is atomics; the backend is Sendable; the background
    // thread's semaphore is only used through async-signal-safe sem_post / sem_timedwait.
    let base: UInt
    let pageSize: Int
    let table: PageStateTable
    let slots: SwapSlots
    let backend: any SwapBackend
    let freesOnNotify: Bool
    let uffd: Userfaultfd
    let counters: SwapCounters
    let limitPages: Int
    let selection: SwapRegionConfiguration.VictimSelection
    let mode: SwapRegionConfiguration.ReclaimMode
    let cache: SwapCache
    /// Evict dirty pages with `UFFDIO_MOVE` into the staging area (else write-protect them).
    let usesMove: Bool

    private let hand = Atomic<Int>(0)
    /// Evictions so far: the clock that eviction stamps and refault distances are measured in.
    let evictions = Atomic<UInt64>(0)

    // Background reclaim.
    /// Reclaim starts when the charge exceeds this many pages...
    let highWatermark: Int
    /// ...and stops when it falls to this many.
    let lowWatermark: Int
    private let wakeup: UnsafeMutablePointer<sem_t>
    private let running = Atomic<Bool>(false)
    private let wakePending = Atomic<Bool>(false)
    private var thread: pthread_t?

    init(base: UInt, pageSize: Int, table: PageStateTable, slots: SwapSlots, backend: any SwapBackend,
         uffd: Userfaultfd, counters: SwapCounters, limitPages: Int,
         selection: SwapRegionConfiguration.VictimSelection, mode: SwapRegionConfiguration.ReclaimMode,
         cache: SwapCache, usesMove: Bool) {
        self.cache = cache
        self.usesMove = usesMove && cache.stagingCount > 0
        self.base = base
        self.pageSize = pageSize
        self.table = table
        self.slots = slots
        self.backend = backend
        self.freesOnNotify = backend.freesOnNotify
        self.uffd = uffd
        self.counters = counters
        self.limitPages = limitPages
        self.selection = selection
        self.mode = mode
        let gap = max(2, min(256, limitPages / 32))
        highWatermark = limitPages - gap
        lowWatermark = max(1, limitPages - 2 * gap)
        wakeup = .allocate(capacity: 1)
        sem_init(wakeup, 0, 0)
    }

    deinit {
        sem_destroy(wakeup)
        wakeup.deallocate()
    }

    // MARK: Charge

    /// Charges one page against the limit, evicting while the region is at it. Returns false
    /// when nothing could be evicted for a long time (every other page locked, or the backend
    /// full).
    @inline(__always)
    func charge() -> Bool {
        var failures = 0
        while true {
            let current = counters.charged.load(ordering: .relaxed)
            if current < limitPages {
                if counters.charged.compareExchange(expected: current, desired: current + 1, ordering: .relaxed).exchanged {
                    let now = current + 1
                    if now > counters.chargedMax.load(ordering: .relaxed) { counters.chargedMax.max(now, ordering: .relaxed) }
                    if mode == .background {
                        if now >= highWatermark { requestBackgroundReclaim() }
                    } else if usesMove && limitPages - now < cache.stagingBatch {
                        // Staged pages stay charged until their batch is flushed: evict one
                        // page per fault ahead of need, so that no single fault pays for a
                        // whole batch.
                        _ = reclaimOne()
                    }
                    return true
                }
                continue
            }
            if mode == .background { requestBackgroundReclaim() }
            if reclaimOne() {
                failures = 0
            } else {
                failures += 1
                if failures > 20_000 { return false }
                if failures > 8 { sched_yield() }
            }
        }
    }

    /// Returns `pages` pages' charge.
    @inline(__always)
    func uncharge(_ pages: Int = 1) {
        if pages > 0 { counters.charged.subtract(pages, ordering: .relaxed) }
    }

    /// Empties the staging area's done slots and returns their charge.
    func flushStaging() {
        uncharge(cache.flushStaging())
    }

    // MARK: Victims

    /// Finds a victim and evicts it. Returns false when a sweep found none.
    func reclaimOne() -> Bool {
        let pageCount = table.pageCount
        for _ in 0..<(2 * pageCount) {
            let i = hand.add(1, ordering: .relaxed).oldValue % pageCount
            let state = table.load(i)
            guard state.kind == .resident, !state.isLocked else { continue }
            if selection == .clock && state.credit > 0 {
                var spent = state
                spent.credit -= 1
                _ = table.compareExchange(i, expected: state, desired: spent)
                continue
            }
            guard let locked = table.tryLock(i, if: { $0.kind == .resident }) else { continue }
            if evict(i, locked) { return true }
        }
        return false
    }

    // MARK: Eviction

    /// Evicts a resident page whose lock the caller holds (`state` without the lock bit).
    /// Always releases the lock. Returns whether the page left memory.
    func evict(_ page: Int, _ state: PageState) -> Bool {
        let address = base + UInt(page * pageSize)
        let stamp = evictions.add(1, ordering: .relaxed).oldValue
        if !state.isDirty && state.hasSlot {
            // Clean: the slot still holds these contents. Drop the page.
            if cuswap_madvise(UnsafeMutableRawPointer(bitPattern: address), pageSize, MADV_DONTNEED) != 0 {
                table.unlock(page, to: state)
                counters.failedEvictions.add(1, ordering: .relaxed)
                return false
            }
            var next = state
            next.kind = .swapped
            next.isWriteProtected = false
            next.credit = 0
            next.stamp = stamp
            table.unlock(page, to: next)
            counters.keptCopies.subtract(1, ordering: .relaxed)
            counters.cleanDrops.add(1, ordering: .relaxed)
            uncharge()
            return true
        }
        if usesMove {
            var staging = cache.acquireStaging(hint: page)
            if staging == nil {
                flushStaging()
                staging = cache.acquireStaging(hint: page)
            }
            if let staging {
                if let evicted = evictByMove(page, state, staging: staging, stamp: stamp) { return evicted }
                // The move was refused (a pinned page, say): write protection still works.
            }
        }
        return evictByWriteProtect(page, state, stamp: stamp)
    }

    /// Moves a dirty page out into a staging slot and compresses it from there. Returns nil
    /// (with the page untouched and still locked) when the kernel refused the move.
    private func evictByMove(_ page: Int, _ state: PageState, staging: Int, stamp: UInt64) -> Bool? {
        let address = base + UInt(page * pageSize)
        let staged = cache.stagingAddress(staging)
        // After this ioctl the region's entry is empty: a concurrent access faults and waits
        // for this page's lock; every write before it is in the moved page.
        if uffd.move(to: staged, from: address, length: pageSize) != nil {
            cache.releaseStaging(staging)
            return nil
        }
        let stagedPage = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: staged), count: pageSize)
        var slot = slots.allocate()
        if let s = slot {
            do {
                try backend.writePage(stagedPage, at: s)
            } catch {
                dropReference(s, asking: .discard)
                slot = nil
            }
        }
        guard let slot else {
            // Put the page back where it was: move it back (or copy it back).
            if uffd.move(to: address, from: staged, length: pageSize) != nil {
                _ = uffd.copy(to: address, from: UnsafeRawPointer(bitPattern: staged)!, length: pageSize, writeProtected: false)
                _ = cuswap_madvise(UnsafeMutableRawPointer(bitPattern: staged), pageSize, MADV_DONTNEED)
            }
            cache.releaseStaging(staging)
            table.unlock(page, to: state)
            counters.failedEvictions.add(1, ordering: .relaxed)
            return false
        }
        publishSwapped(page, was: state, slot: slot, stamp: stamp)
        // The staged copy stays charged until the batch is flushed.
        if cache.markStagingDone(staging) >= cache.stagingBatch { flushStaging() }
        return true
    }

    /// Write-protects a dirty page, compresses it in place, and drops it.
    private func evictByWriteProtect(_ page: Int, _ state: PageState, stamp: UInt64) -> Bool {
        let address = base + UInt(page * pageSize)
        // Dirty: write-protect BEFORE reading it, so a concurrent write either lands first or
        // traps and waits for this page's lock.
        if !state.isWriteProtected, uffd.writeProtect(address, length: pageSize, enable: true) != nil {
            table.unlock(page, to: state)
            counters.failedEvictions.add(1, ordering: .relaxed)
            return false
        }
        guard let slot = slots.allocate() else {
            _ = uffd.writeProtect(address, length: pageSize, enable: false)
            var kept = state
            kept.isWriteProtected = false
            table.unlock(page, to: kept)
            counters.failedEvictions.add(1, ordering: .relaxed)
            return false
        }
        do {
            try backend.writePage(UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: address), count: pageSize), at: slot)
        } catch {
            dropReference(slot, asking: .discard)
            _ = uffd.writeProtect(address, length: pageSize, enable: false)
            var kept = state
            kept.isWriteProtected = false
            table.unlock(page, to: kept)
            counters.failedEvictions.add(1, ordering: .relaxed)
            return false
        }
        _ = cuswap_madvise(UnsafeMutableRawPointer(bitPattern: address), pageSize, MADV_DONTNEED)
        publishSwapped(page, was: state, slot: slot, stamp: stamp)
        uncharge()
        return true
    }

    /// The last step of every eviction, with the page's lock held and its contents stored in
    /// `slot`: drop a stale copy the page still held (a page installed over EEXIST keeps its old
    /// slot until now), publish the page as swapped to `slot`, unlock it, count the swap-out.
    @inline(__always)
    private func publishSwapped(_ page: Int, was state: PageState, slot: Int, stamp: UInt64) {
        if state.hasSlot {
            dropReference(state.slot, asking: .discard)
            counters.keptCopies.subtract(1, ordering: .relaxed)
        }
        var next = PageState.empty
        next.kind = .swapped
        next.hasSlot = true
        next.slot = slot
        next.stamp = stamp
        table.unlock(page, to: next)
        counters.swapOuts.add(1, ordering: .relaxed)
    }

    // MARK: Slot references

    /// Drops one reference on `slot`; when it was the last, frees the slot in the backend the
    /// way the owner asked (`slotFreeNotify`, or `discard`) and makes it reusable.
    @inline(__always)
    func dropReference(_ slot: Int, asking kind: SwapSlots.FreeKind?) {
        guard let free = slots.release(slot, asking: kind) else { return }
        switch free {
        case .notify:
            backend.slotFreeNotify(slot)
            counters.notifyFree.add(1, ordering: .relaxed)
            // A backend that cannot free on notify keeps the copy until the swap layer frees
            // the slot: which is now.
            if !freesOnNotify { backend.discard(slot) }
        case .discard:
            backend.discard(slot)
            counters.slotsDiscarded.add(1, ordering: .relaxed)
        }
        slots.finishFree(slot)
    }

    // MARK: Background thread

    /// Starts the background reclaim thread (background mode only).
    func start() throws(SwapError) {
        guard mode == .background else { return }
        running.store(true, ordering: .releasing)
        var t = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&t, nil, { raw in
            let me = Unmanaged<Reclaimer>.fromOpaque(raw!).takeRetainedValue()
            me.backgroundLoop()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<Reclaimer>.fromOpaque(context).release()
            running.store(false, ordering: .releasing)
            throw .systemCall("pthread_create (reclaim thread)", errno: .init(rawValue: rc))
        }
        thread = t
    }

    /// Stops the background thread and waits for it.
    func stop() {
        guard let t = thread else { return }
        running.store(false, ordering: .releasing)
        sem_post(wakeup)
        pthread_join(t, nil)
        thread = nil
    }

    /// Async-signal-safe: wakes the background thread once.
    @inline(__always)
    func requestBackgroundReclaim() {
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) { sem_post(wakeup) }
    }

    private func backgroundLoop() {
        while running.load(ordering: .acquiring) {
            var deadline = timespec()
            clock_gettime(CLOCK_REALTIME, &deadline)
            deadline.tv_nsec += 20_000_000
            if deadline.tv_nsec >= 1_000_000_000 { deadline.tv_sec += 1; deadline.tv_nsec -= 1_000_000_000 }
            _ = sem_timedwait(wakeup, &deadline)
            wakePending.store(false, ordering: .releasing)
            guard running.load(ordering: .acquiring) else { break }
            if counters.charged.load(ordering: .relaxed) < highWatermark { continue }
            var misses = 0
            while running.load(ordering: .relaxed) && counters.charged.load(ordering: .relaxed) > lowWatermark {
                if !reclaimOne() {
                    misses += 1
                    if misses > 4 { break }
                }
            }
            flushStaging()
        }
    }
}
