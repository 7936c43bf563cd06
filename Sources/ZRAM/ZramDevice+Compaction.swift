extension ZramDevice {
    /// Moves objects out of sparse spans into fuller ones of the same class, returns the emptied
    /// spans' memory to the system and counts it in `pages_compacted` (zs_compact).
    ///
    /// The pool picks, per class, the sparsest spans whose objects fit in the class's other
    /// partial spans; then every slot is visited once and, under its lock, an object in such a
    /// span is copied to its new home and the slot's handle updated. Runs alongside reads and
    /// writes; one compaction at a time.
    /// - Returns: the system pages (4 KiB) freed.
    @discardableResult
    public func compact() -> Int {
        compactionLock.withLock { () -> Int in
            let sources = pool.beginCompaction()
            guard !sources.isEmpty else { return 0 }
            let movable = ZramSlotFlags.same.rawValue | ZramSlotFlags.writtenBack.rawValue
            for slot in 0..<slotCount {
                let peek = table.word(slot)
                guard peek & ZramSlotFlags.sizeMask != 0, peek & movable == 0 else { continue }
                table.lock(slot)
                let word = table.word(slot)
                let size = Int(word & ZramSlotFlags.sizeMask)
                guard size != 0, word & movable == 0 else {
                    table.unlock(slot)
                    continue
                }
                let classIndex = pool.classes.classIndex(forSize: size)
                let handle = table.handle(slot)
                guard let target = pool.relocationTarget(for: handle, inClass: classIndex) else {
                    table.unlock(slot)
                    continue
                }
                pool.address(of: target, inClass: classIndex).copyMemory(
                    from: pool.address(of: handle, inClass: classIndex), byteCount: size)
                table.setHandle(slot, target)
                table.unlock(slot)
                pool.free(handle, inClass: classIndex)
            }
            let pages = pool.endCompaction(sources) / SystemMemory.pageSize
            counters.pagesCompacted.add(pages, ordering: .relaxed)
            return pages
        }
    }
}
