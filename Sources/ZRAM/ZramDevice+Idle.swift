/// Which slots ``ZramDevice/markIdle(_:)`` marks, as writing to zram's `idle` attribute selects.
public enum ZramIdleSelection: Sendable, Hashable {
    /// Every slot that holds a page (`echo all > idle`).
    case all
    /// Slots not accessed for at least this many seconds (`echo <seconds> > idle`).
    case olderThan(seconds: Int)
}

extension ZramDevice {
    /// Marks slots idle (ZRAM_IDLE); a later read or write of a slot clears its mark.
    ///
    /// Slots that hold nothing or were written back are skipped, as the kernel does.
    /// - Returns: how many slots were marked.
    @discardableResult
    public func markIdle(_ selection: ZramIdleSelection = .all) -> Int {
        let time = now
        var marked = 0
        for slot in 0..<slotCount {
            guard table.word(slot) & ~ZramSlotFlags.lock.rawValue != 0 else { continue }
            table.lock(slot)
            if table.isAllocated(slot) && !table.testFlag(slot, .writtenBack) {
                var idle = true
                if case .olderThan(let seconds) = selection {
                    idle = age(since: table.accessTime(slot), now: time) >= seconds
                }
                if idle {
                    table.setFlag(slot, .idle)
                    marked += 1
                }
            }
            table.unlock(slot)
        }
        return marked
    }

    /// Marks slots not accessed for at least `seconds` idle; see ``markIdle(_:)``.
    @discardableResult
    public func markIdle(olderThan seconds: Int) -> Int { markIdle(.olderThan(seconds: seconds)) }

    /// Seconds since `slot` was last written or read.
    public func secondsSinceAccess(_ slot: Int) throws(ZramError) -> Int {
        do { try check(slot) } catch { throw .page(error) }
        table.lock(slot)
        let time = table.accessTime(slot)
        table.unlock(slot)
        return age(since: time, now: now)
    }

    /// Seconds from `time` to `now`, both device clock readings (wrapping 32-bit arithmetic).
    @inline(__always)
    func age(since time: UInt32, now: UInt32) -> Int { Int(Int32(bitPattern: now &- time)) }
}
