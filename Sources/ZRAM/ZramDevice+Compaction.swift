import ZsPool

extension ZramDevice {
    /// Moves objects out of sparse spans into fuller ones of the same class, returns the emptied
    /// spans' memory to the system and counts it in `pages_compacted` (zs_compact).
    ///
    /// The pool picks, per class, the sparsest spans whose objects fit in the class's other
    /// partial spans (`ZsPool.compact(_:)`); then every slot is visited once and, under its
    /// lock, an object in such a span is copied to its new home and the slot's handle updated.
    /// Runs alongside reads and writes; one compaction at a time.
    /// - Returns: the system pages (4 KiB) freed.
    @discardableResult
    public func compact() -> Int {
        let notInPool = ZramSlotFlags.same.rawValue | ZramSlotFlags.writtenBack.rawValue
        return pool.compact { compaction in
            for slot in 0..<slotCount {
                let peek = table.word(slot)
                guard peek & ZramSlotFlags.sizeMask != 0, peek & notInPool == 0 else { continue }
                table.lock(slot)
                let word = table.word(slot)
                let size = Int(word & ZramSlotFlags.sizeMask)
                guard size != 0, word & notInPool == 0 else {
                    table.unlock(slot)
                    continue
                }
                let classIndex = pool.classes.classIndex(forSize: size)
                let handle = ZsHandle(rawValue: table.handle(slot))
                guard let target = compaction.relocate(handle, inClass: classIndex, byteCount: size) else {
                    table.unlock(slot)
                    continue
                }
                table.setHandle(slot, target.rawValue)
                table.unlock(slot)
                pool.free(handle, inClass: classIndex)
            }
        }
    }
}
