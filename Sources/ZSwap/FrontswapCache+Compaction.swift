import ZsPool

extension FrontswapCache {
    /// Moves pool objects out of sparse spans into fuller ones and gives the emptied spans'
    /// pages back to the system (zsmalloc's compaction, which zswap's pool runs from its
    /// shrinker). Counted in ``mmStat``'s `pages_compacted`.
    ///
    /// Every slot in the pool with an object is visited once; under its lock, an object in a
    /// span being emptied is copied to its new home and the entry's handle updated, then the
    /// old object is freed. Runs alongside stores and loads; one compaction at a time. With
    /// ``FrontswapConfiguration/LimitPolicy/rejectNewest`` refused stores run it every
    /// ``compactEvery`` refusals.
    /// - Returns: the system pages (4 KiB) freed.
    @discardableResult
    public func compact() -> Int {
        pool.compact { compaction in
            for slot in 0..<slotCount where entries.location(slot) == .pool {
                entries.lock(slot)
                guard entries.location(slot) == .pool else {
                    entries.unlock(slot)
                    continue
                }
                let entry = entries.poolEntry(slot)
                let classIndex = pool.classes.classIndex(forSize: entry.size)
                let handle = ZsHandle(rawValue: entry.handle)
                guard !entry.isSameFilled,
                    let target = compaction.relocate(handle, inClass: classIndex, byteCount: entry.size)
                else {
                    entries.unlock(slot)
                    continue
                }
                entries.setHandle(slot, target.rawValue)
                entries.unlock(slot)
                pool.free(handle, inClass: classIndex)
            }
        }
    }
}
