import Synchronization

/// A small lock built on one atomic flag, for the pool's short critical sections (a few list
/// operations, tens of nanoseconds).
///
/// Acquire is a compare-and-swap with acquire ordering, release a store with release ordering;
/// a waiter spins briefly, then yields the processor so a preempted holder can finish. Unlike
/// `Mutex` on Linux, whose futex calls live in the prebuilt Synchronization library, every
/// operation here is an inlined atomic, so ThreadSanitizer sees the ordering it provides.
struct SpinLock: ~Copyable, @unchecked Sendable {
    private let held = Atomic<Bool>(false)

    /// An unlocked lock.
    init() {}

    /// Takes the lock, waiting while another thread holds it.
    @inline(__always)
    func lock() {
        if held.compareExchange(expected: false, desired: true, successOrdering: .acquiring, failureOrdering: .relaxed).exchanged {
            return
        }
        lockSlowly()
    }

    private func lockSlowly() {
        var spins = 0
        while true {
            if !held.load(ordering: .relaxed),
                held.compareExchange(expected: false, desired: true, successOrdering: .acquiring, failureOrdering: .relaxed).exchanged
            {
                return
            }
            spins += 1
            if spins >= 32 {
                spins = 0
                SystemMemory.yield()
            }
        }
    }

    /// Drops the lock; the caller holds it.
    @inline(__always)
    func unlock() { held.store(false, ordering: .releasing) }

    /// Runs `body` holding the lock.
    @inline(__always)
    func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}
