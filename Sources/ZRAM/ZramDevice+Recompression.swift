import PageCodecs
import PageStore
import ZsPool

/// Which slots ``ZramDevice/recompress(type:threshold:maxPages:)`` considers, as zram's
/// `recompress type=` selects.
public enum ZramRecompressionType: Sendable, Hashable {
    /// Idle slots (`type=idle`).
    case idle
    /// Huge slots (`type=huge`).
    case huge
    /// Slots both huge and idle (`type=huge_idle`).
    case hugeIdle
}

extension ZramDevice {
    /// Recompresses selected slots with the secondary codec (zram's `recompress`), keeping a
    /// result only when it lands in a smaller size class; the slot then records priority 1 so
    /// reads use the secondary codec. A huge slot that no codec shrinks is marked
    /// INCOMPRESSIBLE and skipped from then on.
    ///
    /// - Parameters:
    ///   - type: which slots to consider.
    ///   - threshold: when nonzero, only objects of at least this size are considered, and a
    ///     result must also be smaller than it.
    ///   - maxPages: the most slots to try.
    /// - Returns: how many slots now hold a smaller object.
    /// Like the kernel, every slot tried loses its IDLE mark (it was just touched).
    /// - Throws: ``ZramError/noSecondaryCodec`` when the configuration has none;
    ///   ``ZramError/invalidConfiguration(_:)`` when `threshold` is at least ``hugeClassSize``.
    @discardableResult
    public func recompress(type: ZramRecompressionType, threshold: Int = 0, maxPages: Int = .max) throws(ZramError) -> Int {
        guard configuration.secondaryCodec != nil else { throw .noSecondaryCodec }
        guard threshold >= 0 && threshold < hugeClassSize else {
            throw .invalidConfiguration("recompression threshold \(threshold) must be below huge_class_size \(hugeClassSize)")
        }
        let index = streams.acquire()
        defer { streams.release(index) }
        let stream = streams.stream(index)
        guard stream.secondary != nil else { throw .noSecondaryCodec }
        let skip = ZramSlotFlags.same.rawValue | ZramSlotFlags.writtenBack.rawValue
            | ZramSlotFlags.incompressible.rawValue | ZramSlotFlags.priorityBit1.rawValue
            | ZramSlotFlags.priorityBit2.rawValue
        var required = ZramSlotFlags.idle.rawValue
        if type == .huge { required = ZramSlotFlags.huge.rawValue }
        if type == .hugeIdle { required |= ZramSlotFlags.huge.rawValue }
        var tried = 0
        var improved = 0
        for slot in 0..<slotCount where tried < maxPages {
            let peek = table.word(slot)
            guard peek & ZramSlotFlags.sizeMask != 0, peek & skip == 0, peek & required == required else { continue }
            table.lock(slot)
            let word = table.word(slot)
            let size = Int(word & ZramSlotFlags.sizeMask)
            guard size != 0, word & skip == 0, word & required == required, threshold == 0 || size >= threshold else {
                table.unlock(slot)
                continue
            }
            tried += 1
            table.clearFlag(slot, .idle)
            let wasHuge = word & ZramSlotFlags.huge.rawValue != 0
            let oldClass = pool.classes.classIndex(forSize: size)
            let oldHandle = ZsHandle(rawValue: table.handle(slot))
            do throws(CodecError) {
                try stream.decode(
                    pool.bytes(of: oldHandle, inClass: oldClass, count: size), isRaw: wasHuge, priority: 0,
                    into: stream.page)
            } catch {
                table.unlock(slot)
                counters.failedReads.add(1, ordering: .relaxed)
                continue
            }
            guard let newSize = stream.recompress(UnsafeRawBufferPointer(stream.page), below: hugeClassSize),
                threshold == 0 || newSize < threshold,
                pool.classes.classIndex(forSize: newSize) < oldClass
            else {
                if wasHuge { table.setFlag(slot, .incompressible) }
                table.unlock(slot)
                continue
            }
            let newClass = pool.classes.classIndex(forSize: newSize)
            guard let newHandle = pool.allocate(inClass: newClass) else {
                table.unlock(slot)
                continue
            }
            pool.write(UnsafeRawBufferPointer(rebasing: stream.scratch[0..<newSize]), to: newHandle, inClass: newClass)
            table.setHandle(slot, newHandle.rawValue)
            table.setWord(slot, UInt32(newSize) | ZramSlotFlags.priorityBit1.rawValue)
            table.unlock(slot)
            stored.replaceObject(size: size, huge: wasHuge, with: newSize)
            counters.recompressed.add(1, ordering: .relaxed)
            pool.free(oldHandle, inClass: oldClass)
            improved += 1
        }
        return improved
    }
}
