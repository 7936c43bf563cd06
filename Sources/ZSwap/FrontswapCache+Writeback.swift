import PageStore
import Synchronization
import SystemSupport
import ZsPool

/// The batch a ``FrontswapCache`` writeback fills, and the slot of each entry.
///
/// **Memory.** The batch's own allocations and `victims` (`batch.capacity` slots), made in
/// `init`, freed in `deinit`, used only while the cache's shrinker mutex is held: that mutex is
/// what makes the `@unchecked Sendable` safe. Entry `i` of the batch is slot `victims[i]`'s
/// object.
struct WritebackScratch: ~Copyable, @unchecked Sendable {
    var batch: PageTierBatch
    let victims: UnsafeMutablePointer<Int>

    init(capacity: Int, pageSize: Int) {
        batch = PageTierBatch(capacity: capacity, maxObjectSize: pageSize)
        victims = .allocate(capacity: capacity)
        victims.initialize(repeating: -1, count: capacity)
    }

    deinit { victims.deallocate() }
}

/// A batch of one page for a store that goes straight to the tier, one per codec stream.
///
/// **Memory.** The batch (one page of arena), made in `init`, freed with the box; used only by
/// the thread holding the codec stream of the same index, which is what makes the
/// `@unchecked Sendable` safe.
final class DirectBatch: @unchecked Sendable {
    var batch: PageTierBatch
    init(pageSize: Int) { batch = PageTierBatch(capacity: 1, maxObjectSize: pageSize) }
}

/// What one writeback batch did.
struct FrontswapBatchOutcome {
    /// Entries copied into the batch.
    var collected = 0
    /// Slots in the tier now.
    var written = 0
    /// Whether the tier refused some (their entries stay in the pool).
    var refused = false
}

extension FrontswapCache {
    /// Writes least recently used pool entries back to the tier, in batches of
    /// ``FrontswapConfiguration/writebackBatch``, until the pool is at or below the accept
    /// threshold or `maxPages` were written (zswap's shrink worker).
    ///
    /// Entries loaded since the shrinker last looked at them get a second chance: their
    /// referenced bit is cleared and they move to the head. Busy slots are skipped; a slot
    /// loaded, stored or discarded while its batch is being written keeps its new state (the
    /// tier's copy is freed again). Objects the tier refuses stay in the pool (counted in
    /// `reject_reclaim_fail`, and `failed_writes` for an I/O error) and end the pass. If another
    /// thread is shrinking, returns 0 at once.
    ///
    /// - Returns: the number of entries written back.
    @discardableResult
    public func shrink(maxPages: Int = .max) -> Int {
        shrinker.withLockIfAvailable { scratch in
            shrinkerOrder.withLock { shrinkLocked(maxPages: maxPages, untilThreshold: true, scratch: &scratch).written }
        } ?? 0
    }

    /// Writes back exactly `count` entries from the LRU tail (second chance applies) whatever
    /// the pool's size: for a reclaim thread that wants room ahead of demand, and for tests.
    ///
    /// - Returns: the number written back (fewer when the LRU runs out or the tier refuses).
    @discardableResult
    public func writeBack(count: Int) -> Int {
        shrinker.withLock { scratch in
            shrinkerOrder.withLock { shrinkLocked(maxPages: count, untilThreshold: false, scratch: &scratch).written }
        }
    }

    /// Batches until `maxPages` are written, the LRU runs dry, the tier refuses, or (with
    /// `untilThreshold`) the pool is at or below the accept threshold. The caller holds the
    /// shrinker.
    func shrinkLocked(maxPages: Int, untilThreshold: Bool, scratch: inout WritebackScratch) -> (written: Int, refused: Bool) {
        var written = 0
        while written < maxPages && (!untilThreshold || poolBytes > acceptThresholdBytes) {
            let outcome = writeBackBatch(maxPages: min(scratch.batch.capacity, maxPages - written), scratch: &scratch)
            written += outcome.written
            if outcome.refused { return (written, true) }
            if outcome.collected == 0 { break }
        }
        return (written, false)
    }

    /// One round of the writeback thread (a tier that may not be called from a signal
    /// handler): once a store found the pool at its limit, batches until it is at or below the
    /// accept threshold (eight batches a round, so frees get their turn).
    func threadRound() -> TierWritebackThread.Outcome {
        if poolBytes >= poolLimitBytes { draining.store(true, ordering: .relaxed) }
        guard draining.load(ordering: .relaxed) else { return .idle }
        guard poolBytes > acceptThresholdBytes else {
            draining.store(false, ordering: .relaxed)
            return .idle
        }
        let result = shrinker.withLock { scratch in
            shrinkerOrder.withLock {
                shrinkLocked(maxPages: 8 * configuration.writebackBatch, untilThreshold: true, scratch: &scratch)
            }
        }
        if result.written > 0 { return .wrote }
        if result.refused { return .refused }
        // Nothing left to write back (all same-filled, busy or just loaded): the holes loads
        // left in the pool's spans keep it above the threshold; compact and stop draining.
        compact()
        draining.store(false, ordering: .relaxed)
        return .idle
    }

    /// Takes the LRU tail's first unreferenced, unlocked entry off the list and returns it with
    /// its slot lock held; referenced entries and busy slots rotate to the head (their
    /// referenced bit cleared). `nil` when no entry qualifies in two passes over the list: the
    /// first pass may only have cleared bits, as a CLOCK hand's first sweep does.
    func pickVictim() -> Int? {
        lru.withLock { list -> Int? in
            var budget = 2 * list.count
            while budget > 0, let tail = list.last {
                budget -= 1
                if entries.clearReferenced(tail) || !entries.tryLock(tail) {
                    list.pushFront(tail)
                    continue
                }
                list.remove(tail)
                return tail
            }
            return nil
        }
    }

    /// Collects up to `maxPages` victims' objects into the batch (each slot claimed, off the
    /// LRU, its lock dropped), writes the batch to the tier with no slot lock held, then
    /// commits each slot under its lock: still claimed and acknowledged, its object is freed
    /// and the slot holds the tier's handle; still claimed and refused, it goes back to the LRU
    /// head; touched meanwhile (claim cleared), the tier's copy is freed and a slot still in the
    /// pool goes back on the LRU. The caller holds the shrinker.
    func writeBackBatch(maxPages: Int, scratch: inout WritebackScratch) -> FrontswapBatchOutcome {
        var outcome = FrontswapBatchOutcome()
        scratch.batch.removeAll()
        var attempts = 2 * maxPages
        while scratch.batch.count < maxPages && attempts > 0, let slot = pickVictim() {
            attempts -= 1
            let entry = entries.poolEntry(slot)
            if entry.isSameFilled {
                // Costs no pool memory: nothing to gain in the tier.
                lru.withLock { $0.pushFront(slot) }
                entries.unlock(slot)
                continue
            }
            let object = pool.bytes(
                of: ZsHandle(rawValue: entry.handle), inClass: pool.classes.classIndex(forSize: entry.size), count: entry.size)
            guard let index = try? scratch.batch.append(object) else {
                lru.withLock { $0.pushFront(slot) }
                entries.unlock(slot)
                break
            }
            scratch.victims[index] = slot
            entries.claim(slot)
            entries.unlock(slot)
        }
        outcome.collected = scratch.batch.count
        guard outcome.collected > 0 else { return outcome }
        do throws(PageTierError) { try tier.write(&scratch.batch) } catch {
            scratch.batch.resetResults()
            scratch.batch.failure = error
        }
        var refused = 0
        var failedWrites = 0  // refused because their write was made and failed (not for lack of room)
        for i in 0..<scratch.batch.count {
            let slot = scratch.victims[i]
            let handle = scratch.batch.handle(at: i)
            entries.lock(slot)
            guard entries.location(slot) == .pool, entries.isClaimed(slot) else {
                // Touched meanwhile: the new state stands.
                if entries.location(slot) == .pool { lru.withLock { if !$0.contains(slot) { $0.pushFront(slot) } } }
                entries.unlock(slot)
                if let handle {
                    if let frees { frees.push(handle) } else { withUnsafePointer(to: handle) { tier.free(UnsafeBufferPointer(start: $0, count: 1)) } }
                }
                continue
            }
            entries.clearClaim(slot)
            guard let handle else {
                lru.withLock { $0.pushFront(slot) }
                entries.unlock(slot)
                refused += 1
                if scratch.batch.refusalCountedAs(at: i) == .writeFailed { failedWrites += 1 }
                continue
            }
            freeObject(of: entries.poolEntry(slot))
            entries.setTierHandle(slot, handle.rawValue)
            entries.unlock(slot)
            outcome.written += 1
        }
        if outcome.written > 0 {
            counters.pagesInFile.add(outcome.written, ordering: .relaxed)
            counters.writtenBack.add(outcome.written, ordering: .relaxed)
        }
        if refused > 0 || scratch.batch.failure != nil {
            outcome.refused = true
            counters.rejectReclaimFail.add(max(refused, 1), ordering: .relaxed)
            counters.tierRefused.add(refused, ordering: .relaxed)
            counters.failedWrites.add(failedWrites, ordering: .relaxed)
        }
        scratch.batch.removeAll()
        return outcome
    }
}
