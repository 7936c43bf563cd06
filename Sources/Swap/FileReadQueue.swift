#if os(Linux)
import CUSwap
import Glibc
#endif
import Synchronization

/// The requests of swap-ins whose page is read from a file tier by an I/O thread: a fixed table
/// of request slots, a submission bitmap the I/O threads take from, and one futex word per
/// request that a waiting faulting thread sleeps on.
///
/// Everything is async-signal-safe (atomics and futex system calls only, no allocation, no
/// lock), so the SIGBUS handler on a faulting thread can submit a read and wait for it.
///
/// A request's life: ``reserve()`` (a free slot, or nil when all are in flight: the caller
/// reads inline), ``submit(_:_:)`` (fields published, an I/O thread woken), taken by an I/O
/// thread in ``next()``, then either
/// - **waited for** (``Request/completesOnIOThread`` false, SIGBUS mode and prefault): the I/O
///   thread calls ``complete(_:succeeded:)``, the submitter sleeps in ``wait(_:)`` and then
///   ``release(_:)``s it; or
/// - **completed by whoever arrives last** (handler-thread mode): the submitter does its own
///   work meanwhile (charging the page) and calls ``arrive(_:)``; the I/O thread records the
///   read's outcome and calls ``arrive(_:)``; the one that brings the count to zero installs
///   the page (or poisons it), wakes the faulting thread and releases the request.
///
/// **Memory and ownership.** `capacity` (1...64) entries of each per-request array, allocated
/// in `init` and freed in `deinit`, owned by this object alone. Invariants its methods keep: a
/// request is in exactly one of free, reserved (one owner), submitted (its bit set in the
/// submission bitmap), taken (one I/O thread), completed; its plain fields are written only by
/// its reserver before ``submit(_:_:)`` (published with release ordering, read after an
/// acquiring take), and ``inFlightPage(_:)`` is its page from submission to release, -1 otherwise.
final class FileReadQueue: @unchecked Sendable {
    // @unchecked Sendable: per-request plain fields follow the ownership hand-offs above; all
    // shared words are atomics.

    /// What a request carries from the faulting path to its completion.
    struct Request {
        var page = 0
        var pageAddress: UInt = 0
        var slot = 0
        var frame = 0
        var access: Int32 = 0
        var state = PageState.empty
        var start: UInt64 = 0
        /// Handler-thread mode: the completion (install, free, wake or poison) runs on
        /// whichever thread arrives last, never blocking the handler thread on the disk.
        var completesOnIOThread = false
    }

    /// The number of request slots.
    let capacity: Int
    private let requests: UnsafeMutablePointer<Request>
    /// Futex words: 0 pending, 1 pending with a sleeping waiter, 2 done.
    private let status: UnsafeMutablePointer<Atomic<UInt32>>
    /// The read's outcome, written by the I/O thread before it completes or arrives.
    private let succeeded: UnsafeMutablePointer<Atomic<Bool>>
    /// Whether the submitter's charge succeeded (handler-thread mode).
    private let charged: UnsafeMutablePointer<Atomic<Bool>>
    /// Arrivals still expected (handler-thread mode): 2 at submission.
    private let arrivals: UnsafeMutablePointer<Atomic<Int>>
    private let pages: UnsafeMutablePointer<Atomic<Int>>
    /// Bit i set: request i is reserved or in flight.
    private let busy = Atomic<UInt64>(0)
    /// Bit i set: request i waits for an I/O thread.
    private let submitted = Atomic<UInt64>(0)
    /// The futex word I/O threads sleep on; bumped by every submission.
    private let sequence: UnsafeMutablePointer<Atomic<UInt32>>
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// How long an idle I/O thread keeps polling the submission bitmap before it sleeps, in
    /// nanoseconds (a submission it sees while polling costs no futex wake-up).
    let idleSpinNanoseconds: UInt64
    /// How long a waiter polls its request before it sleeps on the futex, in nanoseconds.
    let waitSpinNanoseconds: UInt64

    /// An idle I/O thread sleeps at once: on 2 loaded cores a polling I/O thread took the CPU
    /// from the faulting thread (bench-file-reads, page-cached file: 20 us of polling made a
    /// touch 49.6 us of CPU against 36.7 us without).
    static let defaultIdleSpin: UInt64 = 0
    /// A waiter polls 5 us before it sleeps (as fast as no polling, 34.3 against 36.7 us of CPU
    /// per touch; 20 us of polling: 72.9 us).
    static let defaultWaitSpin: UInt64 = 5_000

    private static let pending: UInt32 = 0
    private static let pendingWithWaiter: UInt32 = 1
    private static let done: UInt32 = 2

    /// A queue of `capacity` (1...64) request slots.
    init(capacity: Int, idleSpinNanoseconds: UInt64 = 0, waitSpinNanoseconds: UInt64 = 0) {
        precondition(capacity >= 1 && capacity <= 64, "1...64 requests")
        self.capacity = capacity
        self.idleSpinNanoseconds = idleSpinNanoseconds
        self.waitSpinNanoseconds = waitSpinNanoseconds
        requests = .allocate(capacity: capacity)
        requests.initialize(repeating: Request(), count: capacity)
        status = .allocate(capacity: capacity)
        succeeded = .allocate(capacity: capacity)
        charged = .allocate(capacity: capacity)
        arrivals = .allocate(capacity: capacity)
        pages = .allocate(capacity: capacity)
        for i in 0..<capacity {
            (status + i).initialize(to: Atomic<UInt32>(0))
            (succeeded + i).initialize(to: Atomic<Bool>(false))
            (charged + i).initialize(to: Atomic<Bool>(false))
            (arrivals + i).initialize(to: Atomic<Int>(0))
            (pages + i).initialize(to: Atomic<Int>(-1))
        }
        sequence = .allocate(capacity: 1)
        sequence.initialize(to: Atomic<UInt32>(0))
    }

    deinit {
        requests.deinitialize(count: capacity)
        requests.deallocate()
        status.deinitialize(count: capacity)
        status.deallocate()
        succeeded.deinitialize(count: capacity)
        succeeded.deallocate()
        charged.deinitialize(count: capacity)
        charged.deallocate()
        arrivals.deinitialize(count: capacity)
        arrivals.deallocate()
        pages.deinitialize(count: capacity)
        pages.deallocate()
        sequence.deinitialize(count: 1)
        sequence.deallocate()
    }

    @inline(__always)
    private static func word(_ p: UnsafeMutablePointer<Atomic<UInt32>>) -> UnsafeMutablePointer<UInt32> {
        // Atomic<UInt32> has UInt32's layout: the futex works on the same 4 bytes.
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt32.self)
    }

    // MARK: Submitting side

    /// Takes a free request slot, or nil when every one is in flight (never waits).
    @inline(__always)
    func reserve() -> Int? {
        let all: UInt64 = capacity == 64 ? .max : (1 << UInt64(capacity)) - 1
        var current = busy.load(ordering: .relaxed)
        while true {
            let free = ~current & all
            guard free != 0 else { return nil }
            let index = free.trailingZeroBitCount
            let (exchanged, original) = busy.compareExchange(
                expected: current, desired: current | (1 << UInt64(index)), ordering: .acquiring)
            if exchanged { return index }
            current = original
        }
    }

    /// Publishes a reserved request and wakes an I/O thread.
    @inline(__always)
    func submit(_ index: Int, _ request: Request) {
        requests[index] = request
        status[index].store(Self.pending, ordering: .relaxed)
        succeeded[index].store(false, ordering: .relaxed)
        charged[index].store(false, ordering: .relaxed)
        arrivals[index].store(2, ordering: .relaxed)
        pages[index].store(request.page, ordering: .releasing)
        submitted.bitwiseOr(1 << UInt64(index), ordering: .sequentiallyConsistent)
        sequence.pointee.add(1, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            _ = cuswap_futex_wake(Self.word(sequence), 1)
        }
    }

    /// Sleeps until the I/O thread completed the request; returns whether the read succeeded
    /// and whether the caller had to sleep (the read was still in flight). The caller then
    /// ``release(_:)``s the request.
    @inline(__always)
    func wait(_ index: Int) -> (succeeded: Bool, slept: Bool) {
        if status[index].load(ordering: .acquiring) == Self.done {
            return (succeeded[index].load(ordering: .relaxed), false)
        }
        if waitSpinNanoseconds > 0 {
            let start = cuswap_now_ns()
            repeat {
                cuswap_cpu_relax()
                if status[index].load(ordering: .acquiring) == Self.done {
                    return (succeeded[index].load(ordering: .relaxed), false)
                }
            } while cuswap_now_ns() &- start < waitSpinNanoseconds
        }
        var slept = false
        if status[index].compareExchange(expected: Self.pending, desired: Self.pendingWithWaiter, ordering: .acquiringAndReleasing).exchanged {
            slept = true
            while status[index].load(ordering: .acquiring) != Self.done {
                _ = cuswap_futex_wait(Self.word(status + index), Self.pendingWithWaiter, -1)
            }
        }
        return (succeeded[index].load(ordering: .relaxed), slept)
    }

    /// Records the submitter's charge (handler-thread mode) before it ``arrive(_:)``s.
    @inline(__always)
    func setCharged(_ index: Int, _ value: Bool) {
        charged[index].store(value, ordering: .relaxed)
    }

    /// One of the two parties (submitter, I/O thread) is done with its part. Returns true for
    /// the last one, which must finish the request (its fields, ``succeeded(_:)`` and
    /// ``charged(_:)`` are then final) and ``release(_:)`` it.
    @inline(__always)
    func arrive(_ index: Int) -> Bool {
        arrivals[index].subtract(1, ordering: .acquiringAndReleasing).newValue == 0
    }

    /// The request's fields (for the thread that finishes it).
    @inline(__always)
    func request(_ index: Int) -> Request { requests[index] }

    /// The read's outcome (final once completed or both parties arrived).
    @inline(__always)
    func succeeded(_ index: Int) -> Bool { succeeded[index].load(ordering: .relaxed) }

    /// The submitter's charge (final once both parties arrived).
    @inline(__always)
    func charged(_ index: Int) -> Bool { charged[index].load(ordering: .relaxed) }

    /// Returns a finished request's slot to the free set.
    @inline(__always)
    func release(_ index: Int) {
        pages[index].store(-1, ordering: .relaxed)
        busy.bitwiseAnd(~(1 << UInt64(index)), ordering: .releasing)
    }

    /// Whether a read for `page` is in flight (handler-thread mode: a second fault on that page
    /// needs no service, the completion wakes every thread waiting on it). A racy answer: a
    /// request may complete right after.
    @inline(__always)
    func isInFlight(page: Int) -> Bool {
        var bits = busy.load(ordering: .acquiring)
        while bits != 0 {
            let i = bits.trailingZeroBitCount
            if pages[i].load(ordering: .acquiring) == page { return true }
            bits &= bits - 1
        }
        return false
    }

    /// Requests reserved or in flight now.
    var inFlight: Int { busy.load(ordering: .relaxed).nonzeroBitCount }

    // MARK: I/O thread side

    /// The next submitted request, sleeping while there is none; nil once ``stop()`` was
    /// called and nothing is left to take.
    func next() -> Int? {
        var idleSince: UInt64 = 0
        while true {
            var bits = submitted.load(ordering: .acquiring)
            while bits != 0 {
                let i = bits.trailingZeroBitCount
                let (exchanged, original) = submitted.compareExchange(
                    expected: bits, desired: bits & ~(1 << UInt64(i)), ordering: .acquiringAndReleasing)
                if exchanged { return i }
                bits = original
            }
            if stopping.load(ordering: .acquiring) { return nil }
            if idleSpinNanoseconds > 0 {
                let now = cuswap_now_ns()
                if idleSince == 0 { idleSince = now }
                if now &- idleSince < idleSpinNanoseconds {
                    cuswap_cpu_relax()
                    continue
                }
                idleSince = 0
            }
            let seen = sequence.pointee.load(ordering: .sequentiallyConsistent)
            sleepers.add(1, ordering: .sequentiallyConsistent)
            if submitted.load(ordering: .sequentiallyConsistent) == 0 && !stopping.load(ordering: .sequentiallyConsistent) {
                _ = cuswap_futex_wait(Self.word(sequence), seen, -1)
            }
            sleepers.subtract(1, ordering: .sequentiallyConsistent)
        }
    }

    /// The I/O thread finished a waited-for request: records the outcome and wakes the waiter.
    @inline(__always)
    func complete(_ index: Int, succeeded ok: Bool) {
        succeeded[index].store(ok, ordering: .relaxed)
        if status[index].exchange(Self.done, ordering: .acquiringAndReleasing) == Self.pendingWithWaiter {
            _ = cuswap_futex_wake(Self.word(status + index), 1)
        }
    }

    /// The I/O thread records a read's outcome before it ``arrive(_:)``s (handler-thread mode).
    @inline(__always)
    func setSucceeded(_ index: Int, _ ok: Bool) {
        succeeded[index].store(ok, ordering: .relaxed)
    }

    /// Tells the I/O threads to exit once no submitted request is left, and wakes them.
    func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        sequence.pointee.add(1, ordering: .sequentiallyConsistent)
        _ = cuswap_futex_wake(Self.word(sequence), Int32.max)
    }

    /// Debug-only: nothing reserved or in flight (call on a quiescent region).
    func checkInvariants() {
        #if DEBUG
        precondition(busy.load(ordering: .relaxed) == 0, "\(inFlight) file reads still in flight")
        precondition(submitted.load(ordering: .relaxed) == 0, "submitted reads left untaken")
        for i in 0..<capacity {
            precondition(pages[i].load(ordering: .relaxed) == -1, "request \(i) still names page \(pages[i].load(ordering: .relaxed))")
        }
        #endif
    }
}
