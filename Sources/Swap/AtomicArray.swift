import Synchronization

/// A fixed number of atomic values in one allocation: the words of the swap layer's tables
/// (page states, slot counts, staging slots, request status, histogram buckets).
///
/// Memory: `count` `Atomic<Value>`s, allocated and initialized in `init`, deinitialized and
/// freed in `deinit`. The value is `~Copyable`, so exactly one owner (the table that holds it)
/// owns the storage, which lives exactly as long as that owner.
///
/// Invariants: the storage never moves, so an element's address (``address(of:)``, which a
/// futex needs) stays valid while the array lives; every index is in `0..<count` (checked in
/// debug builds: the accessors sit on fault paths).
struct AtomicArray<Value: AtomicRepresentable>: ~Copyable, @unchecked Sendable {
    // @unchecked Sendable: the elements are atomics and the pointer never changes.

    /// The number of elements.
    let count: Int
    private let storage: UnsafeMutablePointer<Atomic<Value>>

    /// `count` (at least 1) atomics holding `initialValue`.
    init(count: Int, initialValue: Value) {
        precondition(count > 0, "an atomic array needs at least one element")
        self.count = count
        storage = .allocate(capacity: count)
        for i in 0..<count { (storage + i).initialize(to: Atomic(initialValue)) }
    }

    deinit {
        storage.deinitialize(count: count)
        storage.deallocate()
    }

    /// The atomic at `index`.
    subscript(index: Int) -> Atomic<Value> {
        @inline(__always)
        unsafeAddress {
            assert(index >= 0 && index < count, "atomic array index out of range")
            return UnsafePointer(storage + index)
        }
    }

    /// The address of the atomic at `index` (an `Atomic` has its value's layout, so a futex
    /// can wait on a 32-bit element there).
    @inline(__always)
    func address(of index: Int) -> UnsafeMutableRawPointer {
        assert(index >= 0 && index < count, "atomic array index out of range")
        return UnsafeMutableRawPointer(storage + index)
    }

    /// Debug-only: the storage is aligned for its elements and holds at least one.
    func checkInvariants() {
        #if DEBUG
        precondition(count > 0, "an atomic array without elements")
        precondition(Int(bitPattern: storage) % MemoryLayout<Atomic<Value>>.alignment == 0, "misaligned atomic storage")
        #endif
    }
}

extension AtomicArray where Value == UInt32 {
    /// Starting at `start` (taken modulo ``count``) and wrapping around once, finds an element
    /// holding `expected` and changes it to `desired` by compare-and-swap (acquiring): the one
    /// way the swap layer claims a free slot. Returns its index, or nil when a full turn found
    /// none.
    @inline(__always)
    func claim(from start: Int, expected: Value, desired: Value) -> Int? {
        var index = start % count
        for _ in 0..<count {
            if self[index].load(ordering: .relaxed) == expected,
               self[index].compareExchange(expected: expected, desired: desired, ordering: .acquiring).exchanged {
                return index
            }
            index += 1
            if index == count { index = 0 }
        }
        return nil
    }
}
