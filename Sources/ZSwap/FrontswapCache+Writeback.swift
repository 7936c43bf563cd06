import PageStore
import Synchronization

extension FrontswapCache {
    /// Writes least recently used pool entries back to their file blocks until the pool is at
    /// or below the accept threshold or `maxPages` were written (zswap's shrink worker).
    ///
    /// Entries loaded since the shrinker last looked at them get a second chance: their
    /// referenced bit is cleared and they move to the head. Busy slots are skipped. A failed
    /// file write keeps the entry in the pool (counted in `reject_reclaim_fail` and
    /// `failed_writes`) and ends the pass. If another thread is shrinking, returns 0 at once.
    ///
    /// - Returns: the number of entries written back.
    @discardableResult
    public func shrink(maxPages: Int = .max) -> Int {
        shrinker.withLockIfAvailable { scratch in
            var written = 0
            while written < maxPages && poolBytes > acceptThresholdBytes {
                guard let victim = pickVictim() else { break }
                guard writeBack(victim, using: scratch.page) else { break }
                written += 1
            }
            return written
        } ?? 0
    }

    /// Writes back exactly `count` entries from the LRU tail (second chance applies) whatever
    /// the pool's size: for a reclaim thread that wants room ahead of demand, and for tests.
    ///
    /// - Returns: the number written back (fewer when the LRU runs out or a write fails).
    @discardableResult
    public func writeBack(count: Int) -> Int {
        shrinker.withLock { scratch in
            var written = 0
            while written < count {
                guard let victim = pickVictim() else { break }
                guard writeBack(victim, using: scratch.page) else { break }
                written += 1
            }
            return written
        }
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
                if states.clearReferenced(tail) || !states.tryLock(tail) {
                    list.pushFront(tail)
                    continue
                }
                list.remove(tail)
                return tail
            }
            return nil
        }
    }

    /// Writes `slot`'s pool entry to its file block and frees the entry (slot lock held by the
    /// caller, released here). On failure the entry goes back to the LRU head, still in the
    /// pool. Returns whether it was written.
    func writeBack(_ slot: Int, using page: UnsafeMutableRawBufferPointer) -> Bool {
        defer { states.unlock(slot) }
        do throws(PageStoreError) {
            try pool.readPage(at: slot, into: page)
            try file.writeBlock(UnsafeRawBufferPointer(page), at: slot)
        } catch {
            if case .io = error { counters.failedWrites.add(1, ordering: .relaxed) }
            counters.rejectReclaimFail.add(1, ordering: .relaxed)
            lru.withLock { $0.pushFront(slot) }
            return false
        }
        checksums?.record(UnsafeRawBufferPointer(page), for: slot)
        pool.discard(slot)
        states.setLocation(slot, .file)
        counters.pagesInFile.add(1, ordering: .relaxed)
        counters.writtenBack.add(1, ordering: .relaxed)
        return true
    }
}
