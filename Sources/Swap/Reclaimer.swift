#if os(Linux)
import CUSwap
#endif
@_spi(SoakPlant) import PageStore
import Synchronization
import SystemSupport

/// Evicts cold pages to the backend so that a region stays within its resident limit, and
/// keeps the charge: the count of pages mapped in the region plus the pager's uncompressed
/// copies, which never exceeds the limit.
///
/// Victims: a CLOCK hand sweeps the page table. In ``SwapRegionConfiguration/VictimSelection/clock``
/// mode a resident page's credit (earned by faulting in, by a refault soon after its eviction,
/// and by a write seen through write protection) is spent one pass at a time before the page
/// can be evicted; in ``SwapRegionConfiguration/VictimSelection/fifo`` mode credits are ignored.
///
/// Eviction by write protection, in batches (``EvictionBatch``): the hand collects up to
/// ``EvictionBatch/capacity`` (64) victims within a short span, locks them, write-protects the span with one ioctl, compresses
/// each dirty victim straight from the region, drops them all with one
/// `process_madvise(MADV_DONTNEED)` (``PageDiscarder``) and publishes them as swapped: two TLB
/// flushes per batch. Resident pages in the span that are not victims are write-protected too;
/// their next write takes one write-protect fault that lifts it. By move (one page at a time):
/// move the page out of the region into a staging slot (one ioctl; the region's entry is empty
/// from then on), compress it from there into a new slot, publish it as swapped; staging slots
/// are emptied in batches with one `MADV_DONTNEED` per run and stay charged until then. Either
/// way a write landing meanwhile completes before the protection or the move (and is
/// compressed) or traps and waits for the page lock, then swaps the page back in. Eviction of a
/// clean page (lazy copy still in its slot) is a drop: no compression.
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

    // A backend that refuses pages.
    /// Slots freed so far (a clock for "has room come back since the refusal").
    private let slotFrees = Atomic<Int>(0)
    /// ``slotFrees`` + 1 when the backend last refused a page; 0 when it takes pages.
    private let refusedAtFree = Atomic<Int>(0)
    /// Charges that found the backend still refusing (for the periodic retry).
    private let refusedChecks = Atomic<Int>(0)
    /// Whether the charge ever went beyond the limit (never reset: for the invariant check).
    let hasOverrun = Atomic<Bool>(false)

    // Background reclaim.
    /// Reclaim starts when the charge exceeds this many pages...
    let highWatermark: Int
    /// ...and stops when it falls to this many.
    let lowWatermark: Int
    private let wakeup = WakeupSemaphore()
    private let wakePending = Atomic<Bool>(false)
    private let thread = PagerThread(role: "reclaim thread")

    /// Drops evicted pages, a batch per system call.
    let discarder = PageDiscarder()

    /// The reclaimer of the region `region` describes (its thread not started).
    init(region: RegionContext) {
        self.region = region
        (highWatermark, lowWatermark) = SwapTuning.watermarks(limitPages: region.limitPages)
    }

    /// The resident limit in pages.
    var limitPages: Int { region.limitPages }

    // MARK: Charge

    /// Charges one page against the limit, evicting while the region is at it. Returns false
    /// only when nothing could be evicted for ``SwapTuning/chargeGiveUpNanoseconds`` (every
    /// other resident page stayed locked, or every eviction's system call failed); until then
    /// it waits for the lock holders, sleeping between sweeps.
    ///
    /// When the backend refuses a page (full: no slot, its pool at its limit, its file out of
    /// space, its writeback budget spent) the charge goes beyond the limit instead of failing a
    /// fault that could be served: the page stays resident, nothing is lost, and the overrun is
    /// counted (``SwapStatistics/limitOverruns``) and shown (``SwapStatistics/overLimitPages``).
    /// Until a slot is freed, further charges overrun without trying again (every
    /// ``SwapTuning/refusedRetryInterval``-th one tries); once the backend takes pages again,
    /// each charge above the limit evicts up to ``SwapTuning/overLimitEvictionsPerCharge``
    /// pages, so the region comes back under its limit.
    @inline(__always)
    func charge() -> Bool {
        let limitPages = region.limitPages
        var failures = 0
        var evicted = 0
        var giveUpAt = 0  // set once the charge starts sleeping
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
                        _ = reclaim(victims: SwapTuning.inFaultEvictionBatch)
                    }
                    return true
                }
                continue
            }
            if region.reclaimMode == .background { requestBackgroundReclaim() }
            // Above the limit (after overruns): a share of the way back per charge.
            if (current > limitPages && evicted >= SwapTuning.overLimitEvictionsPerCharge) || backendStillRefuses() {
                return overrun()
            }
            switch reclaim(victims: SwapTuning.inFaultEvictionBatch) {
            case .evicted:
                evicted += 1
                failures = 0
                giveUpAt = 0
                // The backend took a page: it has room again.
                if refusedAtFree.load(ordering: .relaxed) != 0 { refusedAtFree.store(0, ordering: .relaxed) }
            case .refused:
                return overrun()
            case .kept:
                // Every resident page locked (by other threads' evictions or faults): wait for
                // them, yielding, then sleeping; give up only after a long time.
                failures += 1
                guard failures > SwapTuning.chargeSweepsBeforeSleep else {
                    wait.spin()
                    continue
                }
                let now = MonotonicClock.nanoseconds()
                if giveUpAt == 0 {
                    giveUpAt = now + SwapTuning.chargeGiveUpNanoseconds
                } else if now > giveUpAt {
                    return false
                }
                sleepMicroseconds(SwapTuning.chargePauseMicroseconds)
            }
        }
    }

    /// Charges one page beyond the limit (the backend refused evictions, or this charge already
    /// evicted its share while the region is over its limit) and counts the overrun.
    @inline(__always)
    private func overrun() -> Bool {
        let now = region.counters.charged.add(1, ordering: .relaxed).newValue
        if now > region.counters.chargedMax.load(ordering: .relaxed) { region.counters.chargedMax.max(now, ordering: .relaxed) }
        if now > region.limitPages {
            region.counters.count(.limitOverruns)
            hasOverrun.store(true, ordering: .relaxed)
        }
        return true
    }

    /// Whether the backend refused a page and no slot was freed since (so trying again would
    /// compress a page only to be refused again); every ``SwapTuning/refusedRetryInterval``-th
    /// call says no anyway, for backends whose room comes back without a free.
    @inline(__always)
    private func backendStillRefuses() -> Bool {
        guard refusedSinceLastFree() else { return false }
        return refusedChecks.add(1, ordering: .relaxed).newValue % SwapTuning.refusedRetryInterval != 0
    }

    /// Whether the backend refused a page and no slot was freed since; clears the refusal
    /// once one was. Counts no check: the background thread asks this, and leaves the retries
    /// now and then to the charges.
    @inline(__always)
    private func refusedSinceLastFree() -> Bool {
        let refusal = refusedAtFree.load(ordering: .relaxed)
        guard refusal != 0 else { return false }
        if refusal - 1 != slotFrees.load(ordering: .relaxed) {
            refusedAtFree.store(0, ordering: .relaxed)
            return false
        }
        return true
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

    /// What one eviction, or one search for a victim, came to.
    enum Eviction: Equatable {
        /// A page left memory.
        case evicted
        /// Nothing left memory: no unlocked victim was found, or a system call failed; the
        /// page (if any) stays resident.
        case kept
        /// The backend refused the page (full, or its write failed): the page stays resident.
        case refused
    }

    /// One round of reclaim: a batch of up to `victims` pages (eviction by write protection),
    /// or one page (eviction by move). Stops at the first page the backend refuses.
    @inline(__always)
    func reclaim(victims: Int = EvictionBatch.capacity) -> Eviction {
        region.usesMove ? reclaimOne() : reclaimBatch(victims: victims)
    }

    /// Whether the CLOCK hand passes over page `i` (in `state`, resident and unlocked) this
    /// time: spends one credit and says so (in ``SwapRegionConfiguration/VictimSelection/clock``
    /// mode, when the page has one).
    @inline(__always)
    private func spendsCredit(_ i: Int, _ state: PageState) -> Bool {
        guard region.selection == .clock && state.credit > 0 else { return false }
        var spent = state
        spent.credit -= 1
        _ = region.table.compareExchange(i, expected: state, desired: spent)
        return true
    }

    /// Finds a victim and evicts it (eviction by move). Stops at the first page the backend
    /// refuses.
    func reclaimOne() -> Eviction {
        let pageCount = region.table.pageCount
        for _ in 0..<(SwapTuning.sweepPasses * pageCount) {
            let i = hand.add(1, ordering: .relaxed).oldValue % pageCount
            let state = region.table.load(i)
            guard state.kind == .resident, !state.isLocked, !spendsCredit(i, state) else { continue }
            guard let locked = region.table.tryLock(i, if: { $0.kind == .resident }) else { continue }
            switch evict(i, locked) {
            case .evicted: return .evicted
            case .refused: return .refused
            case .kept: continue
            }
        }
        return .kept
    }

    /// Collects a batch of up to `victims` victims and evicts it (eviction by write protection):
    /// the hand claims consecutive pages, never more than the batch has room for (each page
    /// yields at most one victim) nor ``SwapTuning/victimWindow`` at a time, and examines every
    /// page it claims, so that a batch's victims sit within ``SwapTuning/maximumEvictionSpan``
    /// pages of each other and no page the hand passes is skipped. Returns
    /// ``Eviction/evicted`` once a batch evicted a page; ``Eviction/refused`` when the backend
    /// refused a batch; ``Eviction/kept`` when a whole sweep found nothing to evict.
    func reclaimBatch(victims: Int = EvictionBatch.capacity) -> Eviction {
        let pageCount = region.table.pageCount
        var batch = EvictionBatch(limit: victims)
        var scanned = 0
        var outcome = Eviction.kept
        while scanned < SwapTuning.sweepPasses * pageCount {
            // A claim the batch could not hold would leave its last pages unexamined while the
            // hand moved past them: they kept their place (and their credit) for a whole lap
            // of the hand. Zipf 0.99 (1 GiB region, 256 MiB resident, 1M touches, in-fault
            // batches of 16): 182,112 swap-ins with 32-page claims, 178,172 with this (the
            // kernel: 174,619); a trace simulation gives 182,087 / 177,645 / 177,630 page by page.
            // (Nor more than the table: a claim then wraps at most once, onto pages it has not
            // passed yet.)
            let claim = min(SwapTuning.victimWindow, batch.limit - batch.count, pageCount)
            let start = hand.add(claim, ordering: .relaxed).oldValue % pageCount
            scanned += claim
            // A claim across the table's end is two runs: the pages up to the end, then from 0.
            let firstRun = min(claim, pageCount - start)
            outcome = collect(into: &batch, pages: start..<(start + firstRun), outcome: outcome)
            if outcome == .refused { return outcome }
            if claim > firstRun {
                outcome = collect(into: &batch, pages: 0..<(claim - firstRun), outcome: outcome)
                if outcome == .refused { return outcome }
            }
            if batch.isFull { return evict(&batch) }
            // An early eviction (the batch could not take this claim's pages) evicted: the
            // victims this claim locked go too.
            if outcome == .evicted { return batch.isEmpty || evict(&batch) != .refused ? .evicted : .refused }
        }
        return batch.isEmpty ? outcome : evict(&batch)
    }

    /// Examines the claimed pages `pages` in order, spending credits and locking victims into
    /// `batch` (which has room for all of them). A batch the run cannot extend (the run lies
    /// below its pages, after the hand wrapped, or beyond its span, after other threads took
    /// the pages between) is evicted first, so that a batch's pages ascend and its
    /// write-protected span stays short. Returns that eviction's outcome, else `outcome`.
    @inline(__always)
    private func collect(into batch: inout EvictionBatch, pages: Range<Int>, outcome: Eviction) -> Eviction {
        var outcome = outcome
        if !batch.isEmpty && (pages.lowerBound <= batch.lastPage || pages.upperBound - batch.firstPage > SwapTuning.maximumEvictionSpan) {
            switch evict(&batch) {
            case .refused: return .refused
            case .evicted: outcome = .evicted
            case .kept: break
            }
        }
        for i in pages {
            let state = region.table.load(i)
            guard state.kind == .resident, !state.isLocked, !spendsCredit(i, state) else { continue }
            guard let locked = region.table.tryLock(i, if: { $0.kind == .resident }) else { continue }
            batch.append(page: i, state: locked)
        }
        return outcome
    }

    // MARK: Eviction

    /// Evicts a resident page whose lock the caller holds (`state` without the lock bit).
    /// Always releases the lock.
    func evict(_ page: Int, _ state: PageState) -> Eviction {
        if region.usesMove && !Self.plantedDroppedWrite && (state.isDirty || !state.hasSlot) {
            var staging = region.cache.acquireStaging(hint: page)
            if staging == nil {
                flushStaging()
                staging = region.cache.acquireStaging(hint: page)
            }
            if let staging {
                let stamp = evictions.add(1, ordering: .relaxed).oldValue
                if let evicted = evictByMove(page, state, staging: staging, stamp: stamp) { return evicted }
                // The move was refused (a pinned page, say): write protection still works.
            }
        }
        var batch = EvictionBatch()
        batch.append(page: page, state: state)
        return evict(&batch)
    }

    /// Evicts a batch of locked victims: write-protects the span of the dirty ones (one ioctl),
    /// compresses each dirty one from the region into a new slot, drops them all (one system
    /// call), publishes them as swapped. Releases every victim's lock and empties the batch.
    ///
    /// A victim the backend refuses stays resident (write-protected, so marked: its next write
    /// lifts it), and so do the dirty victims after it, uncompressed: a full backend is full
    /// for them too. Returns ``Eviction/evicted`` when a page left, else ``Eviction/refused``
    /// when the backend refused, else ``Eviction/kept``.
    func evict(_ batch: inout EvictionBatch) -> Eviction {
        defer { batch.removeAll() }
        let pageSize = region.pageSize
        // Dirty pages: protected BEFORE they are read, so that a concurrent write either
        // landed first or traps and waits for the page lock.
        if !Self.plantedDroppedWrite, let (first, last) = batch.dirtySpan,
           region.uffd.writeProtect(region.address(ofPage: first), length: (last - first + 1) * pageSize, enable: true) != nil {
            // (Possibly protected in part: marked so, their next write lifts it.)
            for k in 0..<batch.count where batch.isLive(k) && !batch.isClean(k) {
                _ = giveBack(&batch, k, protected: true)
            }
        }
        // Every victim's eviction stamp, taken before any leaves: victim k's is firstStamp + k
        // (a victim given back wastes its own), and a dirty victim may go to the victim cache
        // frame of its stamp.
        let firstStamp = evictions.add(UInt64(batch.count), ordering: .relaxed).oldValue
        var refused = false
        var populated = 0
        for k in 0..<batch.count where batch.isLive(k) && !batch.isClean(k) {
            let source = UnsafeRawPointer(bitPattern: region.address(ofPage: batch.page(k)))!
            if !refused {
                switch cache(batch.page(k), from: source, stamp: stamp(firstStamp, k)) {
                case .cached(let populatedFrame):
                    batch.setCached(k)
                    if populatedFrame { populated += 1 }
                    continue
                case .refused: refused = true
                case .unavailable: break
                }
            }
            guard !refused, let slot = store(UnsafeRawBufferPointer(start: source, count: pageSize)) else {
                refused = true
                _ = giveBack(&batch, k, protected: true, outcome: .refused)
                continue
            }
            batch.setSlot(k, slot)
        }
        // One call drops every victim still in the batch (adjacent pages as one range).
        var ranges = InlineArray<64, iovec>(repeating: iovec())
        var rangeCount = 0
        var lastPage = -2
        for k in 0..<batch.count where batch.isLive(k) {
            let page = batch.page(k)
            if page == lastPage + 1 {
                ranges[rangeCount - 1].iov_len += pageSize
            } else {
                ranges[rangeCount] = iovec(iov_base: UnsafeMutableRawPointer(bitPattern: region.address(ofPage: page)), iov_len: pageSize)
                rangeCount += 1
            }
            lastPage = page
        }
        guard rangeCount > 0 else { return refused ? .refused : .kept }
        let dropped = ranges.span.withUnsafeBufferPointer { all in
            discarder.discard(UnsafeBufferPointer(rebasing: all[0..<rangeCount])) == nil
        }
        guard dropped else {
            // Not dropped (no known cause): every victim stays, its new slot or victim cache
            // frame goes (a frame it populated stays, charged).
            for k in 0..<batch.count where batch.isLive(k) {
                if batch.isCached(k) {
                    region.victims.empty(page: batch.page(k), stamp: stamp(firstStamp, k))
                } else if batch.slot(k) >= 0 {
                    dropReference(batch.slot(k), asking: .discard)
                }
                _ = giveBack(&batch, k, protected: !batch.isClean(k))
            }
            if populated > 0 { region.counters.charged.add(populated, ordering: .relaxed) }
            return refused ? .refused : .kept
        }
        var evicted = 0
        for k in 0..<batch.count where batch.isLive(k) {
            let page = batch.page(k), state = batch.state(k)
            if batch.isClean(k) {
                // The slot still holds these contents: nothing was compressed.
                var next = state
                next.kind = .swapped
                next.isWriteProtected = false
                next.credit = 0
                next.stamp = stamp(firstStamp, k)
                region.table.unlock(page, to: next)
                region.counters.keptCopies.subtract(1, ordering: .relaxed)
                region.counters.count(.cleanDrops)
            } else if batch.isCached(k) {
                var next = state
                next.kind = .cached
                next.isDirty = true
                next.isWriteProtected = false
                next.credit = 0
                next.stamp = stamp(firstStamp, k)
                region.table.unlock(page, to: next)
                region.counters.count(.victimCacheFills)
            } else {
                publishSwapped(page, was: state, slot: batch.slot(k), stamp: stamp(firstStamp, k))
            }
            evicted += 1
        }
        // A victim whose contents populated a victim cache frame leaves its charge to the frame.
        uncharge(evicted - populated)
        return .evicted
    }

    /// Victim `k`'s eviction stamp in a batch whose stamps start at `first`.
    @inline(__always)
    private func stamp(_ first: UInt64, _ k: Int) -> UInt64 {
        (first &+ UInt64(k)) % PageState.stampModulus
    }

    /// Where a dirty victim's contents went when offered to the victim cache.
    enum Caching {
        /// Into the frame of its stamp (`populated`: the frame took memory for the first time).
        case cached(populated: Bool)
        /// Nowhere: no cache, or the frame's page is locked (a fault is taking it back).
        case unavailable
        /// Nowhere: the backend refused the page the frame held.
        case refused
    }

    /// Puts the dirty page `page` (locked, write-protected, still mapped at `source`) into the
    /// victim cache frame of `stamp`, first pushing the frame's page out to the backend.
    @inline(__always)
    private func cache(_ page: Int, from source: UnsafeRawPointer, stamp: UInt64) -> Caching {
        let victims = region.victims
        guard victims.isEnabled else { return .unavailable }
        if let occupant = victims.occupant(ofStamp: stamp) {
            switch pushOut(occupant.page, stamp: occupant.stamp) {
            case .evicted: break
            case .refused: return .refused
            case .kept: return .unavailable
            }
        }
        guard let populated = victims.fill(page: page, stamp: stamp, from: source) else { return .unavailable }
        return .cached(populated: populated)
    }

    /// Compresses the cached page `page` (evicted with `stamp`) from its victim cache frame
    /// into a new slot and publishes it as swapped, emptying the frame. ``Eviction/kept`` when
    /// the page is locked (a fault is taking it back) or no longer cached there;
    /// ``Eviction/refused`` when the backend refused it (it stays cached).
    private func pushOut(_ page: Int, stamp: UInt64) -> Eviction {
        guard let state = region.table.tryLock(page, if: { $0.kind == .cached && $0.stamp == stamp }) else { return .kept }
        let contents = UnsafeRawBufferPointer(start: region.victims.address(ofStamp: stamp), count: region.pageSize)
        guard let slot = store(contents) else { return abandon(page, state, outcome: .refused) }
        region.victims.empty(page: page, stamp: stamp)
        publishSwapped(page, was: state, slot: slot, stamp: stamp)
        return .evicted
    }

    /// Gives victim `k` back: it stays resident in the state it was locked in (marked
    /// write-protected when `protected`: the batch protected it), the failure is counted, the
    /// lock released. See ``abandon(_:_:unprotecting:outcome:)`` for `outcome`.
    @inline(__always)
    private func giveBack(_ batch: inout EvictionBatch, _ k: Int, protected: Bool = false, outcome: Eviction = .kept) -> Eviction {
        let page = batch.page(k)
        var state = batch.state(k)
        if protected { state.isWriteProtected = true }
        batch.drop(k)
        return abandon(page, state, outcome: outcome)
    }

    /// An eviction that cannot proceed: the page keeps `state` (its write protection lifted
    /// first when `unprotecting`, since the page stays resident and dirty), the failure is
    /// counted. Returns `outcome`: ``Eviction/refused`` when the backend refused the page
    /// (recorded, so that charges stop asking it until a slot is freed), else ``Eviction/kept``.
    @inline(__always)
    private func abandon(_ page: Int, _ state: PageState, unprotecting: Bool = false, outcome: Eviction = .kept) -> Eviction {
        var kept = state
        if unprotecting {
            _ = region.uffd.writeProtect(region.address(ofPage: page), length: region.pageSize, enable: false)
            kept.isWriteProtected = false
        }
        region.table.unlock(page, to: kept)
        region.counters.count(.failedEvictions)
        if outcome == .refused { refusedAtFree.store(slotFrees.load(ordering: .relaxed) + 1, ordering: .relaxed) }
        return outcome
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
    private func evictByMove(_ page: Int, _ state: PageState, staging: Int, stamp: UInt64) -> Eviction? {
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
            return abandon(page, state, outcome: .refused)
        }
        publishSwapped(page, was: state, slot: slot, stamp: stamp)
        // The staged copy stays charged until the batch is flushed.
        if region.cache.markStagingDone(staging) >= region.cache.stagingBatch { flushStaging() }
        return .evicted
    }

    /// Debug builds: whether a soak planted its dropped-write bug (PageStore's `PlantedBug`):
    /// dirty pages are then compressed in place without write protection. Always false in
    /// release builds.
    @inline(__always)
    private static var plantedDroppedWrite: Bool {
        #if DEBUG
        PlantedBug.isPlanted(.droppedWriteDuringEviction)
        #else
        false
        #endif
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
        slotFrees.add(1, ordering: .relaxed)
    }

    // MARK: Background thread

    /// Starts the background reclaim thread (background mode only).
    func start() throws(SwapError) {
        guard region.reclaimMode == .background else { return }
        try thread.start { [self] in backgroundLoop() }
    }

    /// Stops the background thread and waits for it. Charges evict in the fault path from
    /// then on (as when the thread falls behind).
    func stop() {
        thread.stop { wakeup.post() }
    }

    /// Whether the background thread runs.
    var isRunning: Bool { thread.isRunning }

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
            // A full backend is asked again after a slot is freed, or once a charge's retry
            // now and then found room: each wake-up would otherwise compress a page only to be
            // refused.
            if refusedSinceLastFree() { continue }
            var misses = 0
            rounds: while thread.isRunning && region.counters.charged.load(ordering: .relaxed) > lowWatermark {
                switch reclaim() {
                case .evicted: continue
                case .refused: break rounds  // the backend is full: the faults overrun
                case .kept:
                    misses += 1
                    if misses > SwapTuning.backgroundSweepMisses { break rounds }
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
