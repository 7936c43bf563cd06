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
        shrinker.withLockIfAvailable { _ in
            var written = 0
            while written < maxPages && poolBytes > acceptThresholdBytes {
                guard let victim = pickVictim() else { break }
                guard writeBack(victim) else { break }
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
        shrinker.withLock { _ in
            var written = 0
            while written < count {
                guard let victim = pickVictim() else { break }
                guard writeBack(victim) else { break }
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

    /// Writes `slot`'s pool entry to its file block and frees the entry (slot lock held by the
    /// caller, released here). The page is restored into a codec stream's page buffer, held
    /// for this one entry. On failure the entry goes back to the LRU head, still in the pool.
    /// Returns whether it was written.
    func writeBack(_ slot: Int) -> Bool {
        defer { entries.unlock(slot) }
        let entry = entries.poolEntry(slot)
        let outcome = streams.withStream { stream -> PageStoreError? in
            let page = stream.page
            if let failure = decode(entry, into: page, using: stream) {
                return .corrupt(slot: slot, reason: failure)
            }
            do throws(PageStoreError) { try file.writeBlock(UnsafeRawBufferPointer(page), at: slot) } catch {
                counters.failedWrites.add(1, ordering: .relaxed)
                return error
            }
            checksums?.record(UnsafeRawBufferPointer(page), for: slot)
            return nil
        }
        if outcome != nil {
            counters.rejectReclaimFail.add(1, ordering: .relaxed)
            lru.withLock { $0.pushFront(slot) }
            return false
        }
        freeObject(of: entry)
        entries.setLocation(slot, .file)
        counters.pagesInFile.add(1, ordering: .relaxed)
        counters.writtenBack.add(1, ordering: .relaxed)
        return true
    }
}
