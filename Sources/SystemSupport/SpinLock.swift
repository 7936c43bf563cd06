import Synchronization

/// The package's one lock word: an atomic flag for short critical sections (a few list
/// operations, tens of nanoseconds), such as the pool's and the block allocator's.
///
/// Acquire is a compare-and-swap with acquire ordering, release a store with release ordering;
/// a waiter spins briefly, then yields the processor so a preempted holder can finish. Unlike
/// `Mutex` on Linux, whose futex calls live in the prebuilt Synchronization library, every
/// operation here is an inlined atomic, so ThreadSanitizer sees the ordering it provides.
public struct SpinLock: ~Copyable, @unchecked Sendable {
    @usableFromInline let held = Atomic<Bool>(false)

    /// An unlocked lock.
    @inlinable public init() {}

    /// Takes the lock, waiting while another thread holds it.
    @inlinable @inline(__always)
    public func lock() {
        if held.compareExchange(expected: false, desired: true, successOrdering: .acquiring, failureOrdering: .relaxed).exchanged {
            return
        }
        lockSlowly()
    }

    @usableFromInline func lockSlowly() {
        var wait = SpinWait()
        while true {
            if !held.load(ordering: .relaxed),
                held.compareExchange(expected: false, desired: true, successOrdering: .acquiring, failureOrdering: .relaxed).exchanged
            {
                return
            }
            wait.spin()
        }
    }

    /// Drops the lock; the caller holds it.
    @inlinable @inline(__always)
    public func unlock() { held.store(false, ordering: .releasing) }

    /// Runs `body` holding the lock.
    @inlinable @inline(__always)
    public func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}
