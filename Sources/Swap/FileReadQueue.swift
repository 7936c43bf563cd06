#if os(Linux)
import CUSwap
#endif
import Synchronization
import SystemSupport

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
/// The futexes stay hand-written (`cuswap_futex_wait`/`_wake` in CUSwap): a sleep that a
/// signal handler may enter must be one system call on a word the waker changes, with no
/// lock or allocation around it, which no general-purpose primitive promises.
///
/// **Memory and ownership.** `capacity` (1...64) entries of each per-request array, allocated
/// in `init` and freed with the queue, owned by this object alone (the plain request fields in
/// one buffer, the shared words in ``AtomicArray``s). Invariants its methods keep: a request is
/// in exactly one of free, reserved (one owner), submitted (its bit set in the submission
/// bitmap), taken (one I/O thread), completed; its plain fields are written only by its
/// reserver before ``submit(_:_:)`` (published with release ordering, read after an acquiring
/// take), and its page (what ``isInFlight(page:)`` looks for) is set from submission to
/// release, -1 otherwise.
final class FileReadQueue: @unchecked Sendable {
    // @unchecked Sendable: per-request plain fields follow the ownership hand-offs above; all
    // shared words are atomics.

    /// What a swap-in carries from the faulting path to its completion (through the queue
    /// when an I/O thread reads the page).
    struct Request {
        /// The faulting page.
        var page = 0
        /// Its address.
        var pageAddress: UInt = 0
        /// The slot read (``state``'s).
        var slot = 0
        /// The swap cache frame the page is read into.
        var frame = 0
        /// What the faulting access was.
        var access = FaultAccess.unknown
        /// The page's state when the fault locked it (swapped), restored if the fault fails.
        var state = PageState.empty
        /// When the fault started (a `MonotonicClock` reading), for its latency.
        var start = 0
        /// Handler-thread mode: the completion (install, free, wake or poison) runs on
        /// whichever thread arrives last, never blocking the handler thread on the disk.
        var completesOnIOThread = false

        /// An empty request (a free slot of the queue).
        init() {}

        /// The swap-in of `page`, locked in `state`, by an `access` that started at `start`.
        init(page: Int, pageAddress: UInt, state: PageState, access: FaultAccess, start: Int) {
            self.page = page
            self.pageAddress = pageAddress
            self.slot = state.slot
            self.state = state
            self.access = access
            self.start = start
        }
    }

    /// What a request's futex word says.
    private enum Status {
        /// The read is in flight and nobody sleeps on it.
        static var pending: UInt32 { 0 }
        /// The read is in flight and the submitter sleeps on the word.
        static var pendingWithWaiter: UInt32 { 1 }
        /// The read completed (its outcome is in `succeeded`).
        static var done: UInt32 { 2 }
    }

    /// The parties that arrive at a handler-thread request: its submitter and the I/O thread.
    private static var parties: Int { 2 }

    /// The number of request slots.
    let capacity: Int
    private let requests: UnsafeMutablePointer<Request>
    /// Futex words, one per request (``Status``).
    private let status: AtomicArray<UInt32>
    /// The read's outcome, written by the I/O thread before it completes or arrives.
    private let succeeded: AtomicArray<Bool>
    /// Whether the submitter's charge succeeded (handler-thread mode).
    private let charged: AtomicArray<Bool>
    /// Arrivals still expected (handler-thread mode): `parties` at submission.
    private let arrivals: AtomicArray<Int>
    /// The page each request reads, -1 when free.
    private let pages: AtomicArray<Int>
    /// Set: the request is reserved or in flight.
    private let busy: AtomicBitmap
    /// Set: the request waits for an I/O thread.
    private let submitted: AtomicBitmap
    /// The futex word I/O threads sleep on; bumped by every submission.
    private let sequence: AtomicArray<UInt32>
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// How long an idle I/O thread keeps polling the submission bitmap before it sleeps, in
    /// nanoseconds (a submission it sees while polling costs no futex wake-up).
    let idleSpinNanoseconds: UInt64
    /// How long a waiter polls its request before it sleeps on the futex, in nanoseconds.
    let waitSpinNanoseconds: UInt64

    /// A queue of `capacity` (1...64) request slots; see ``SwapTuning`` for the spins a region
    /// uses.
    init(capacity: Int, idleSpinNanoseconds: UInt64 = 0, waitSpinNanoseconds: UInt64 = 0) {
        precondition(capacity >= 1 && capacity <= SwapTuning.maximumFileReadRequests, "1...64 requests")
        self.capacity = capacity
        self.idleSpinNanoseconds = idleSpinNanoseconds
        self.waitSpinNanoseconds = waitSpinNanoseconds
        requests = .allocate(capacity: capacity)
        requests.initialize(repeating: Request(), count: capacity)
        status = AtomicArray(count: capacity, initialValue: Status.pending)
        succeeded = AtomicArray(count: capacity, initialValue: false)
        charged = AtomicArray(count: capacity, initialValue: false)
        arrivals = AtomicArray(count: capacity, initialValue: 0)
        pages = AtomicArray(count: capacity, initialValue: -1)
        busy = AtomicBitmap(capacity: capacity)
        submitted = AtomicBitmap(capacity: capacity)
        sequence = AtomicArray(count: 1, initialValue: 0)
    }

    deinit {
        requests.deinitialize(count: capacity)
        requests.deallocate()
    }

    /// The 32-bit word a futex call waits on or wakes.
    @inline(__always)
    private static func word(_ array: borrowing AtomicArray<UInt32>, _ index: Int) -> UnsafeMutablePointer<UInt32> {
        array.address(of: index).assumingMemoryBound(to: UInt32.self)
    }

    // MARK: Submitting side

    /// Takes a free request slot, or nil when every one is in flight (never waits).
    @inline(__always)
    func reserve() -> Int? {
        busy.setLowestClear()
    }

    /// Publishes a reserved request and wakes an I/O thread.
    @inline(__always)
    func submit(_ index: Int, _ request: Request) {
        requests[index] = request
        status[index].store(Status.pending, ordering: .relaxed)
        succeeded[index].store(false, ordering: .relaxed)
        charged[index].store(false, ordering: .relaxed)
        arrivals[index].store(Self.parties, ordering: .relaxed)
        pages[index].store(request.page, ordering: .releasing)
        submitted.set(index)
        sequence[0].add(1, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            _ = cuswap_futex_wake(Self.word(sequence, 0), 1)
        }
    }

    /// Sleeps until the I/O thread completed the request; returns whether the read succeeded
    /// and whether the caller had to sleep (the read was still in flight). The caller then
    /// ``release(_:)``s the request.
    @inline(__always)
    func wait(_ index: Int) -> (succeeded: Bool, slept: Bool) {
        if status[index].load(ordering: .acquiring) == Status.done {
            return (succeeded[index].load(ordering: .relaxed), false)
        }
        if waitSpinNanoseconds > 0 {
            let start = MonotonicClock.nanoseconds()
            repeat {
                cuswap_cpu_relax()
                if status[index].load(ordering: .acquiring) == Status.done {
                    return (succeeded[index].load(ordering: .relaxed), false)
                }
            } while UInt64(MonotonicClock.nanoseconds() &- start) < waitSpinNanoseconds
        }
        var slept = false
        if status[index].compareExchange(expected: Status.pending, desired: Status.pendingWithWaiter, ordering: .acquiringAndReleasing).exchanged {
            slept = true
            while status[index].load(ordering: .acquiring) != Status.done {
                _ = cuswap_futex_wait(Self.word(status, index), Status.pendingWithWaiter, -1)
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
        busy.clear(index)
    }

    /// Whether a read for `page` is in flight (handler-thread mode: a second fault on that page
    /// needs no service, the completion wakes every thread waiting on it). A racy answer: a
    /// request may complete right after.
    @inline(__always)
    func isInFlight(page: Int) -> Bool {
        var bits = busy.load()
        while bits != 0 {
            let i = bits.trailingZeroBitCount
            if pages[i].load(ordering: .acquiring) == page { return true }
            bits &= bits - 1
        }
        return false
    }

    /// Requests reserved or in flight now.
    var inFlight: Int { busy.setCount }

    // MARK: I/O thread side

    /// The next submitted request, sleeping while there is none; nil once ``stop()`` was
    /// called and nothing is left to take.
    func next() -> Int? {
        var idleSince = 0
        while true {
            if let index = submitted.clearLowestSet() { return index }
            if stopping.load(ordering: .acquiring) { return nil }
            if idleSpinNanoseconds > 0 {
                let now = MonotonicClock.nanoseconds()
                if idleSince == 0 { idleSince = now }
                if UInt64(now &- idleSince) < idleSpinNanoseconds {
                    cuswap_cpu_relax()
                    continue
                }
                idleSince = 0
            }
            let seen = sequence[0].load(ordering: .sequentiallyConsistent)
            sleepers.add(1, ordering: .sequentiallyConsistent)
            if submitted.load() == 0 && !stopping.load(ordering: .sequentiallyConsistent) {
                _ = cuswap_futex_wait(Self.word(sequence, 0), seen, -1)
            }
            sleepers.subtract(1, ordering: .sequentiallyConsistent)
        }
    }

    /// The I/O thread finished a waited-for request: records the outcome and wakes the waiter.
    @inline(__always)
    func complete(_ index: Int, succeeded ok: Bool) {
        succeeded[index].store(ok, ordering: .relaxed)
        if status[index].exchange(Status.done, ordering: .acquiringAndReleasing) == Status.pendingWithWaiter {
            _ = cuswap_futex_wake(Self.word(status, index), 1)
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
        sequence[0].add(1, ordering: .sequentiallyConsistent)
        _ = cuswap_futex_wake(Self.word(sequence, 0), Int32.max)
    }

    /// Debug-only: nothing reserved or in flight (call on a quiescent region).
    func checkInvariants() {
        #if DEBUG
        busy.checkInvariants()
        submitted.checkInvariants()
        precondition(busy.load() == 0, "\(inFlight) file reads still in flight")
        precondition(submitted.load() == 0, "submitted reads left untaken")
        for i in 0..<capacity {
            precondition(pages[i].load(ordering: .relaxed) == -1, "request \(i) still names page \(pages[i].load(ordering: .relaxed))")
        }
        #endif
    }
}
