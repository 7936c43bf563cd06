import Synchronization

/// A fixed number of atomics in one buffer allocated once: per-slot lock words, busy flags and
/// checksums that threads read and update without a lock.
///
/// ```swift
/// let words = AtomicArray<UInt32>(count: 1024, repeating: 0)
/// words[7].bitwiseOr(1, ordering: .acquiring)
/// ```
///
/// Owner and lifetime: the value owns `count` initialized `Atomic<Value>`s from `init` until it
/// is destroyed (`deinit` deinitializes and frees them). It is `~Copyable`, so exactly one owner
/// (usually a class's stored property) holds them; an element is reached by borrowing
/// (`array[i].load(...)`), never copied out. Invariant: every element is initialized while the
/// value lives, and the buffer never moves. Both are set up by `init` and nothing else changes
/// them (the elements are only ever reached through their atomic operations), so there is no
/// `checkInvariants()`: the index check is the one runtime check. An index must be in
/// `0..<count`: debug builds check it, release builds do not (the hot paths index by slots
/// they have checked).
public struct AtomicArray<Value: AtomicRepresentable>: ~Copyable, @unchecked Sendable {
    // @unchecked Sendable: the elements are atomics; the pointer never changes after init.

    /// How many elements there are.
    public let count: Int
    @usableFromInline let base: UnsafeMutablePointer<Atomic<Value>>

    /// `count` atomics (0 or more), each holding `value`.
    public init(count: Int, repeating value: Value) {
        precondition(count >= 0, "an atomic array needs 0 or more elements, not \(count)")
        self.count = count
        base = .allocate(capacity: max(1, count))
        for i in 0..<count { (base + i).initialize(to: Atomic(value)) }
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    /// The atomic at `index`, borrowed.
    @inlinable
    public subscript(index: Int) -> Atomic<Value> {
        unsafeAddress {
            assert(index >= 0 && index < count, "index \(index) outside 0..<\(count)")
            return UnsafePointer(base + index)
        }
    }

    /// Bytes the elements take.
    public var bytes: Int { count * MemoryLayout<Atomic<Value>>.stride }
}
