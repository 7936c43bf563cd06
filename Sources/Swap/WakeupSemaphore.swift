#if os(Linux)
import SystemSupport

/// A POSIX semaphore that a signal handler may post (`sem_post` is async-signal-safe) and one
/// thread waits on with a timeout: how a fault asks the background reclaimer for room.
///
/// Owner and lifetime: the value owns one heap-allocated `sem_t` (it must not move while
/// threads use it) from `init` until it is destroyed (`sem_destroy`, then freed); nobody may
/// post or wait after that. Invariant: the semaphore is initialized while the value lives.
struct WakeupSemaphore: ~Copyable, @unchecked Sendable {
    // @unchecked Sendable: a sem_t is made to be shared between threads; the pointer never
    // changes.
    private let semaphore: UnsafeMutablePointer<sem_t>

    /// A semaphore with count 0.
    init() {
        semaphore = .allocate(capacity: 1)
        sem_init(semaphore, 0, 0)
    }

    deinit {
        sem_destroy(semaphore)
        semaphore.deallocate()
    }

    /// Adds one to the count, waking a waiter. Async-signal-safe.
    @inline(__always)
    func post() {
        _ = sem_post(semaphore)
    }

    /// Waits until the count is positive (and takes one) or `nanoseconds` have passed, or a
    /// signal interrupted the wait; the caller rechecks its condition either way.
    func wait(nanoseconds: Int) {
        var deadline = RealtimeDeadline.after(nanoseconds: nanoseconds)
        _ = sem_timedwait(semaphore, &deadline)
    }

    /// Debug-only: the semaphore answers (`sem_getvalue` succeeds).
    func checkInvariants() {
        #if DEBUG
        var value: Int32 = 0
        precondition(sem_getvalue(semaphore, &value) == 0, "the reclaim semaphore is not initialized")
        #endif
    }
}
#endif
