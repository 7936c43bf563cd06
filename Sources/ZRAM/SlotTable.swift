import Synchronization
import SystemSupport

/// The device's slot table: 16 bytes per slot, allocated once.
///
/// **Layout and ownership.** One buffer of `count x 16` bytes, owned by the table and freed in
/// `deinit`: `count` 8-byte handles (a pool handle, or the word of a same-filled page), then
/// `count` 32-bit atomic words (object size in the low 18 bits, ``ZramSlotFlags`` above), then
/// `count` 32-bit access times (seconds since the device's epoch).
///
/// **Locking.** The `.lock` bit in a slot's word is the slot's lock, taken by compare-and-swap
/// with acquire ordering and dropped with release ordering, like the kernel's ZRAM_LOCK. A slot's
/// handle, time and the rest of its word are read and written only by the lock holder.
/// Helpers named like zram_drv.c's (`testFlag`, `setFlag`, `clearFlag`, `size`) require it.
///
/// **Invariant** (``checkInvariants()``): when no operation runs, no slot is locked; an empty
/// slot has word 0 and handle 0; a same-filled slot has size 0.
final class SlotTable: @unchecked Sendable {
    let count: Int
    private let raw: UnsafeMutableRawPointer
    private let handles: UnsafeMutablePointer<UInt64>
    private let words: UnsafeMutablePointer<Atomic<UInt32>>
    private let times: UnsafeMutablePointer<UInt32>

    /// Bytes per slot.
    static let entryBytes = 16

    /// A table of `count` empty slots.
    init(count: Int) {
        self.count = count
        raw = .allocate(byteCount: max(1, count) * Self.entryBytes, alignment: 16)
        handles = raw.bindMemory(to: UInt64.self, capacity: count)
        handles.initialize(repeating: 0, count: count)
        words = (raw + 8 * count).bindMemory(to: Atomic<UInt32>.self, capacity: count)
        for i in 0..<count { (words + i).initialize(to: Atomic(0)) }
        times = (raw + 12 * count).bindMemory(to: UInt32.self, capacity: count)
        times.initialize(repeating: 0, count: count)
    }

    deinit {
        words.deinitialize(count: count)
        raw.deallocate()
    }

    /// Memory the table holds.
    var bytes: Int { count * Self.entryBytes }

    // MARK: Lock

    /// Takes slot `i`'s lock, spinning then yielding (`SpinWait`) while another thread holds it.
    @inline(__always)
    func lock(_ i: Int) {
        var wait = SpinWait()
        while true {
            let word = words[i].load(ordering: .relaxed)
            if word & ZramSlotFlags.lock.rawValue == 0 {
                let (done, _) = words[i].weakCompareExchange(
                    expected: word, desired: word | ZramSlotFlags.lock.rawValue,
                    successOrdering: .acquiring, failureOrdering: .relaxed)
                if done { return }
            } else {
                wait.spin()
            }
        }
    }

    /// Takes slot `i`'s lock if nobody holds it (zram_slot_trylock).
    func tryLock(_ i: Int) -> Bool {
        var word = words[i].load(ordering: .relaxed)
        while word & ZramSlotFlags.lock.rawValue == 0 {
            let (done, seen) = words[i].compareExchange(
                expected: word, desired: word | ZramSlotFlags.lock.rawValue,
                successOrdering: .acquiring, failureOrdering: .relaxed)
            if done { return true }
            word = seen
        }
        return false
    }

    /// Drops slot `i`'s lock; the caller holds it.
    @inline(__always)
    func unlock(_ i: Int) {
        let word = words[i].load(ordering: .relaxed)
        words[i].store(word & ~ZramSlotFlags.lock.rawValue, ordering: .releasing)
    }

    /// Whether slot `i` is locked right now (a racy peek for reports and tests).
    func isLocked(_ i: Int) -> Bool {
        words[i].load(ordering: .relaxed) & ZramSlotFlags.lock.rawValue != 0
    }

    // MARK: Fields (the caller holds the slot lock)

    /// The flags and size word, lock bit included.
    @inline(__always) func word(_ i: Int) -> UInt32 { words[i].load(ordering: .relaxed) }

    /// Replaces flags and size, keeping the lock bit set.
    @inline(__always)
    func setWord(_ i: Int, _ value: UInt32) {
        words[i].store(value | ZramSlotFlags.lock.rawValue, ordering: .relaxed)
    }

    /// zram_test_flag.
    @inline(__always) func testFlag(_ i: Int, _ flag: ZramSlotFlags) -> Bool { word(i) & flag.rawValue != 0 }
    /// zram_set_flag.
    @inline(__always) func setFlag(_ i: Int, _ flag: ZramSlotFlags) { setWord(i, word(i) | flag.rawValue) }
    /// zram_clear_flag.
    @inline(__always) func clearFlag(_ i: Int, _ flag: ZramSlotFlags) { setWord(i, word(i) & ~flag.rawValue) }
    /// zram_get_obj_size.
    @inline(__always) func size(_ i: Int) -> Int { Int(word(i) & ZramSlotFlags.sizeMask) }
    /// zram_get_priority.
    @inline(__always) func priority(_ i: Int) -> Int { Int((word(i) >> ZramSlotFlags.priorityShift) & 3) }

    /// The handle (pool handle or same-filled word).
    @inline(__always) func handle(_ i: Int) -> UInt64 { handles[i] }
    /// Sets the handle.
    @inline(__always) func setHandle(_ i: Int, _ value: UInt64) { handles[i] = value }
    /// The access time, seconds since the device's epoch.
    @inline(__always) func accessTime(_ i: Int) -> UInt32 { times[i] }
    /// Sets the access time.
    @inline(__always) func setAccessTime(_ i: Int, _ value: UInt32) { times[i] = value }

    /// Whether slot `i` holds something (zram_allocated): an object, a same-filled word or a
    /// written-back block.
    @inline(__always)
    func isAllocated(_ i: Int) -> Bool {
        word(i) & (ZramSlotFlags.sizeMask | ZramSlotFlags.same.rawValue | ZramSlotFlags.writtenBack.rawValue) != 0
    }

    #if DEBUG
    /// Verifies the documented invariant; call while no operation runs.
    func checkInvariants() {
        for i in 0..<count {
            let w = words[i].load(ordering: .acquiring)
            precondition(w & ZramSlotFlags.lock.rawValue == 0, "slot \(i) is still locked")
            if w == 0 { precondition(handles[i] == 0, "empty slot \(i) has handle \(handles[i])") }
            if w & ZramSlotFlags.same.rawValue != 0 {
                precondition(w & ZramSlotFlags.sizeMask == 0, "same-filled slot \(i) has a size")
            }
        }
    }
    #endif
}
