import Synchronization
import SystemSupport

/// Handles waiting to be freed in a tier that may not be called where they are dropped (a
/// signal handler frees a slot whose page lives in a cluster): a bounded lock-free ring any
/// thread pushes to and one thread (a ``TierWritebackThread``) drains.
///
/// ```swift
/// let queue = TierFreeQueue(capacity: 4096)
/// queue.push(handle)                 // from anywhere, a signal handler included
/// while let handle = queue.pop() { ... }
/// ```
///
/// A bounded multi-producer queue with a sequence number per cell (Vyukov's): a push claims the
/// next cell with one compare-and-swap and publishes it with a release store; a pop takes a
/// published cell. Atomics only: no lock, no allocation, so ``push(_:)`` is async-signal-safe.
/// When the ring is full, ``push(_:)`` yields until the drainer makes room (``fullWaits``
/// counts it); a drainer that runs on its own thread always does.
///
/// **Memory and ownership.** Two `AtomicArray`s of `capacity` cells (sequence numbers and
/// handles), made in `init` and freed with the queue, owned by it alone. **Invariants:** the
/// capacity is a power of two; a cell's sequence is its position when free to push, position + 1
/// when it holds a handle to pop, position + capacity once popped; `dequeue <= enqueue <=
/// dequeue + capacity` (``checkInvariants()``).
public final class TierFreeQueue: Sendable {
    /// How many handles the ring holds.
    public let capacity: Int
    private let mask: Int
    private let sequences: AtomicArray<Int>
    private let handles: AtomicArray<UInt64>
    private let enqueue = Atomic<Int>(0)
    private let dequeue = Atomic<Int>(0)
    private let waits = Atomic<Int>(0)

    /// A ring of at least `capacity` handles (rounded up to a power of two, at least 2).
    public init(capacity: Int) {
        var size = 2
        while size < capacity { size <<= 1 }
        self.capacity = size
        mask = size - 1
        sequences = AtomicArray(count: size, repeating: 0)
        for i in 0..<size { sequences[i].store(i, ordering: .relaxed) }
        handles = AtomicArray(count: size, repeating: 0)
    }

    /// Adds `handle`; when the ring is full, yields until the drainer makes room.
    /// Async-signal-safe.
    public func push(_ handle: PageTierHandle) {
        var waited = false
        while !tryPush(handle) {
            if !waited { waits.add(1, ordering: .relaxed); waited = true }
            NativeThread.yield()
        }
    }

    /// Adds `handle` if there is room; false when the ring is full. Async-signal-safe.
    public func tryPush(_ handle: PageTierHandle) -> Bool {
        var position = enqueue.load(ordering: .relaxed)
        while true {
            let cell = position & mask
            let sequence = sequences[cell].load(ordering: .acquiring)
            if sequence == position {
                let (done, seen) = enqueue.weakCompareExchange(
                    expected: position, desired: position + 1, successOrdering: .relaxed, failureOrdering: .relaxed)
                if done {
                    handles[cell].store(handle.rawValue, ordering: .relaxed)
                    sequences[cell].store(position + 1, ordering: .releasing)
                    return true
                }
                position = seen
            } else if sequence < position {
                return false  // the cell still holds a handle from one lap ago: full
            } else {
                position = enqueue.load(ordering: .relaxed)
            }
        }
    }

    /// Takes the oldest handle, or `nil` when none is published.
    public func pop() -> PageTierHandle? {
        var position = dequeue.load(ordering: .relaxed)
        while true {
            let cell = position & mask
            let sequence = sequences[cell].load(ordering: .acquiring)
            if sequence == position + 1 {
                let (done, seen) = dequeue.weakCompareExchange(
                    expected: position, desired: position + 1, successOrdering: .relaxed, failureOrdering: .relaxed)
                if done {
                    let handle = handles[cell].load(ordering: .relaxed)
                    sequences[cell].store(position + mask + 1, ordering: .releasing)
                    return PageTierHandle(rawValue: handle)
                }
                position = seen
            } else if sequence < position + 1 {
                return nil  // empty (or the next push is not published yet)
            } else {
                position = dequeue.load(ordering: .relaxed)
            }
        }
    }

    /// Handles waiting now (a racy count).
    public var count: Int { max(0, enqueue.load(ordering: .relaxed) - dequeue.load(ordering: .relaxed)) }

    /// Pushes that found the ring full and waited for room.
    public var fullWaits: Int { waits.load(ordering: .relaxed) }

    /// Checks the invariants above; debug builds only, while nobody pushes or pops.
    public func checkInvariants() {
        #if DEBUG
        precondition(capacity & mask == 0 && capacity >= 2, "capacity \(capacity) is not a power of two")
        let head = dequeue.load(ordering: .acquiring), tail = enqueue.load(ordering: .acquiring)
        precondition(head <= tail && tail <= head + capacity, "positions \(head)...\(tail) outside one lap")
        for position in head..<tail {
            precondition(sequences[position & mask].load(ordering: .acquiring) == position + 1, "cell of position \(position) is not published")
        }
        #endif
    }
}
