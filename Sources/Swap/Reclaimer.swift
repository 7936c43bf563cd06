#if os(Linux)
import CUSwap
#endif
import PageStore
import Synchronization
import SystemSupport

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
/// is compressed) or traps and waits for the page lock, then swaps the page back in. Eviction
/// of a clean page (lazy copy still in its slot) is a drop: `MADV_DONTNEED` only, no
/// compression.
///
/// Reclaim never waits for a page lock (it skips locked pages), so it may run inside a fault
/// handler that holds the faulting page's lock.
final class Reclaimer: Sendable {
    // @unchecked Sendable: shared state is atomics or the context's; the semaphore is made to be
    // shared.

    /// What the region's parts share.
    let region: RegionContext

    private let hand = Atomic<Int>(0)
    /// Evictions so far: the clock that eviction stamps and refault distances are measured in.
    let evictions = Atomic<UInt64>(0)

    // Background reclaim.
    /// Reclaim starts when the charge exceeds this many pages...
    let highWatermark: Int
    /// ...and stops when it falls to this many.
    let lowWatermark: Int
    private let wakeup = WakeupSemaphore()
    private let wakePending = Atomic<Bool>(false)
    private let thread = PagerThread(role: "reclaim thread")

    /// The reclaimer of the region `region` describes (its thread not started).
    init(region: RegionContext) {
        self.region = region
        (highWatermark, lowWatermark) = SwapTuning.watermarks(limitPages: region.limitPages)
    }

    /// The resident limit in pages.
    var limitPages: Int { region.limitPages }

    // MARK: Charge

    /// Charges one page against the limit, evicting while the region is at it. Returns false
    /// when nothing could be evicted for a long time (every other page locked, or the backend
    /// full).
    @inline(__always)
    func charge() -> Bool {
        let limitPages = region.limitPages
        var failures = 0
        var wait = SpinWait(yieldAfter: SwapTuning.chargeSweepsBeforeYield)
        while true {
            let current = region.counters.charged.load(ordering: .relaxed)
            if current < limitPages {
                if region.counters.charged.compareExchange(expected: current, desired: current + 1, ordering: .relaxed).exchanged {
                    let now = current + 1
                    if now > region.counters.chargedMax.load(ordering: .relaxed) { region.counters.chargedMax.max(now, ordering: .relaxed) }
                    if region.reclaimMode == .background {
                        if now >= highWatermark { requestBackgroundReclaim() }
                    } else if region.usesMove && limitPages - now < region.cache.stagingBatch {
                        // Staged pages stay charged until their batch is flushed: evict one
                        // page per fault ahead of need, so that no single fault pays for a
                        // whole batch.
                        _ = reclaimOne()
                    }
                    return true
                }
                continue
            }
            if region.reclaimMode == .background { requestBackgroundReclaim() }
            if reclaimOne() {
                failures = 0
            } else {
                failures += 1
                if failures > SwapTuning.chargeAttempts { return false }
                wait.spin()
            }
        }
    }

    /// Returns `pages` pages' charge.
    @inline(__always)
    func uncharge(_ pages: Int = 1) {
        if pages > 0 { region.counters.charged.subtract(pages, ordering: .relaxed) }
    }

    /// Empties the staging area's done slots and returns their charge.
    func flushStaging() {
        uncharge(region.cache.flushStaging())
    }

    // MARK: Victims

    /// Finds a victim and evicts it. Returns false when a sweep found none.
    func reclaimOne() -> Bool {
        let pageCount = region.table.pageCount
        for _ in 0..<(SwapTuning.sweepPasses * pageCount) {
            let i = hand.add(1, ordering: .relaxed).oldValue % pageCount
            let state = region.table.load(i)
            guard state.kind == .resident, !state.isLocked else { continue }
            if region.selection == .clock && state.credit > 0 {
                var spent = state
                spent.credit -= 1
                _ = region.table.compareExchange(i, expected: state, desired: spent)
                continue
            }
            guard let locked = region.table.tryLock(i, if: { $0.kind == .resident }) else { continue }
            if evict(i, locked) { return true }
        }
        return false
    }

    // MARK: Eviction

    /// Evicts a resident page whose lock the caller holds (`state` without the lock bit).
    /// Always releases the lock. Returns whether the page left memory.
    func evict(_ page: Int, _ state: PageState) -> Bool {
        let stamp = evictions.add(1, ordering: .relaxed).oldValue
        if !state.isDirty && state.hasSlot {
            // Clean: the slot still holds these contents. Drop the page.
            let address = region.address(ofPage: page)
            if cuswap_madvise(UnsafeMutableRawPointer(bitPattern: address), region.pageSize, MADV_DONTNEED) != 0 {
                return abandon(page, state)
            }
            var next = state
            next.kind = .swapped
            next.isWriteProtected = false
            next.credit = 0
            next.stamp = stamp
            region.table.unlock(page, to: next)
            region.counters.keptCopies.subtract(1, ordering: .relaxed)
            region.counters.count(.cleanDrops)
            uncharge()
            return true
        }
        if region.usesMove {
            var staging = region.cache.acquireStaging(hint: page)
            if staging == nil {
                flushStaging()
                staging = region.cache.acquireStaging(hint: page)
            }
            if let staging {
                if let evicted = evictByMove(page, state, staging: staging, stamp: stamp) { return evicted }
                // The move was refused (a pinned page, say): write protection still works.
            }
        }
        return evictByWriteProtect(page, state, stamp: stamp)
    }

    /// An eviction that cannot proceed: the page keeps `state` (its write protection lifted
    /// first when `unprotecting`, since the page stays resident and dirty), the failure is
    /// counted. Returns false, the eviction's outcome.
    @inline(__always)
    private func abandon(_ page: Int, _ state: PageState, unprotecting: Bool = false) -> Bool {
        var kept = state
        if unprotecting {
            _ = region.uffd.writeProtect(region.address(ofPage: page), length: region.pageSize, enable: false)
            kept.isWriteProtected = false
        }
        region.table.unlock(page, to: kept)
        region.counters.count(.failedEvictions)
        return false
    }

    /// Allocates a slot and writes `contents` to it. Returns the slot, or nil (with nothing
    /// allocated) when the backend is full or the write failed.
    @inline(__always)
    private func store(_ contents: UnsafeRawBufferPointer) -> Int? {
        guard let slot = region.slots.allocate() else { return nil }
        do {
            try region.backend.writePage(contents, at: slot)
        } catch {
            dropReference(slot, asking: .discard)
            return nil
        }
        return slot
    }

    /// Moves a dirty page out into a staging slot and compresses it from there. Returns nil
    /// (with the page untouched and still locked) when the kernel refused the move.
    private func evictByMove(_ page: Int, _ state: PageState, staging: Int, stamp: UInt64) -> Bool? {
        let address = region.address(ofPage: page), pageSize = region.pageSize
        let uffd = region.uffd
        let staged = region.cache.stagingAddress(staging)
        // After this ioctl the region's entry is empty: a concurrent access faults and waits
        // for this page's lock; every write before it is in the moved page.
        if uffd.move(to: staged, from: address, length: pageSize) != nil {
            region.cache.releaseStaging(staging)
            return nil
        }
        guard let slot = store(UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: staged), count: pageSize)) else {
            // Put the page back where it was: move it back (or copy it back).
            if uffd.move(to: address, from: staged, length: pageSize) != nil {
                _ = uffd.copy(to: address, from: UnsafeRawPointer(bitPattern: staged)!, length: pageSize, writeProtected: false)
                _ = cuswap_madvise(UnsafeMutableRawPointer(bitPattern: staged), pageSize, MADV_DONTNEED)
            }
            region.cache.releaseStaging(staging)
            return abandon(page, state)
        }
        publishSwapped(page, was: state, slot: slot, stamp: stamp)
        // The staged copy stays charged until the batch is flushed.
        if region.cache.markStagingDone(staging) >= region.cache.stagingBatch { flushStaging() }
        return true
    }

    /// Write-protects a dirty page, compresses it in place, and drops it.
    private func evictByWriteProtect(_ page: Int, _ state: PageState, stamp: UInt64) -> Bool {
        let address = region.address(ofPage: page), pageSize = region.pageSize
        // Dirty: write-protect BEFORE reading it, so a concurrent write either lands first or
        // traps and waits for this page's lock.
        if !state.isWriteProtected, region.uffd.writeProtect(address, length: pageSize, enable: true) != nil {
            return abandon(page, state)
        }
        guard let slot = store(UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: address), count: pageSize)) else {
            return abandon(page, state, unprotecting: true)
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
            region.counters.keptCopies.subtract(1, ordering: .relaxed)
        }
        var next = PageState.empty
        next.kind = .swapped
        next.hasSlot = true
        next.slot = slot
        next.stamp = stamp
        region.table.unlock(page, to: next)
        region.counters.count(.swapOuts)
    }

    // MARK: Slot references

    /// Drops one reference on `slot`; when it was the last, frees the slot in the backend the
    /// way the owner asked (`slotFreeNotify`, or `discard`) and makes it reusable.
    @inline(__always)
    func dropReference(_ slot: Int, asking kind: SwapSlots.FreeKind?) {
        guard let free = region.slots.release(slot, asking: kind) else { return }
        switch free {
        case .notify:
            region.backend.slotFreeNotify(slot)
            region.counters.count(.notifyFree)
            // A backend that cannot free on notify keeps the copy until the swap layer frees
            // the slot: which is now.
            if !region.freesOnNotify { region.backend.discard(slot) }
        case .discard:
            region.backend.discard(slot)
            region.counters.count(.slotsDiscarded)
        }
        region.slots.finishFree(slot)
    }

    // MARK: Background thread

    /// Starts the background reclaim thread (background mode only).
    func start() throws(SwapError) {
        guard region.reclaimMode == .background else { return }
        try thread.start { [self] in backgroundLoop() }
    }

    /// Stops the background thread and waits for it.
    func stop() {
        thread.stop { wakeup.post() }
    }

    /// Async-signal-safe: wakes the background thread once.
    @inline(__always)
    func requestBackgroundReclaim() {
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) { wakeup.post() }
    }

    private func backgroundLoop() {
        while thread.isRunning {
            wakeup.wait(nanoseconds: SwapTuning.backgroundIdleNanoseconds)
            wakePending.store(false, ordering: .releasing)
            guard thread.isRunning else { break }
            if region.counters.charged.load(ordering: .relaxed) < highWatermark { continue }
            var misses = 0
            while thread.isRunning && region.counters.charged.load(ordering: .relaxed) > lowWatermark {
                if !reclaimOne() {
                    misses += 1
                    if misses > SwapTuning.backgroundSweepMisses { break }
                }
            }
            flushStaging()
        }
    }

    /// Debug-only: the watermarks sit below the limit in order, the semaphore answers.
    func checkInvariants() {
        #if DEBUG
        wakeup.checkInvariants()
        precondition(lowWatermark <= highWatermark && highWatermark <= region.limitPages, "watermarks out of order")
        #endif
    }
}
