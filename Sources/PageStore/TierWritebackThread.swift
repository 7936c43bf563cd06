import Synchronization
import SystemPackage
import SystemSupport

/// The thread that does a store's second-tier work when its tier may not be called from a
/// signal handler (``PageTier/isAsyncSignalSafe`` false: a cluster, an encrypting tier): writing
/// cold pages back in batches, and freeing the handles that the store's operations queue
/// (``frees``) wherever they run, signal handlers included.
///
/// ```swift
/// let frees = TierFreeQueue(capacity: 65_536)
/// let thread = try TierWritebackThread(tier: tier, frees: frees) { [weak store] in
///     guard let store else { return .gone }
///     return store.writeBackOneRound()          // .wrote, .idle, .refused
/// }
/// // ... store operations push freed handles: thread.frees.push(handle) ...
/// thread.stop()                                  // frees drained, thread joined
/// ```
///
/// Every `idleMicroseconds` (1 ms by default) the thread drains the free queue into
/// ``PageTier/free(_:)`` and asks the store for a round of writeback: a round that wrote pages
/// runs again at once; one the tier refused (a cluster down, full, failing over) is tried again
/// after a backoff from 1 ms doubling to 100 ms, so the pages stay in the pool and writeback
/// resumes by itself when the tier takes writes again.
///
/// **Memory and ownership.** The free queue and one buffer of 256 handles for the drain, both
/// made in `init` and owned by this object (the buffer is used only by the thread). The closure
/// should hold the store weakly: the thread ends when it returns ``Outcome/gone`` or after
/// ``stop()``.
public final class TierWritebackThread: @unchecked Sendable {
    // @unchecked Sendable: the drain buffer is used by the thread alone; the rest are atomics,
    // immutable references or a mutex.

    /// What a round of the store's writeback did.
    public enum Outcome: Sendable {
        /// It wrote pages: run again at once.
        case wrote
        /// Nothing to do.
        case idle
        /// The tier refused every page of the round: back off.
        case refused
        /// The store is gone: end the thread.
        case gone
    }

    /// The handles waiting to be freed; push from anywhere.
    public let frees: TierFreeQueue
    /// The tier.
    public let tier: any PageTier
    private let drain: UnsafeMutablePointer<PageTierHandle>
    private static let drainCapacity = 256
    private let stopping = Atomic<Bool>(false)
    private let running = Atomic<Bool>(false)
    private let rounds = Atomic<Int>(0)
    private let refusedRounds = Atomic<Int>(0)
    private let thread: Mutex<NativeThread?> = Mutex(nil)

    /// Starts the thread over `tier`, draining `frees` into it, calling `round` every
    /// `idleMicroseconds` (or at once after a round that wrote).
    ///
    /// - Throws: the `Errno` of a thread that could not be started.
    public init(
        tier: any PageTier, frees: TierFreeQueue, idleMicroseconds: Int = 1000,
        round: @escaping @Sendable () -> Outcome
    ) throws(Errno) {
        self.tier = tier
        self.frees = frees
        drain = .allocate(capacity: Self.drainCapacity)
        drain.initialize(repeating: PageTierHandle(rawValue: 0), count: Self.drainCapacity)
        running.store(true, ordering: .releasing)
        let started: NativeThread
        do {
            started = try NativeThread.start { [self] in loop(idleMicroseconds: idleMicroseconds, round: round) }
        } catch {
            running.store(false, ordering: .releasing)
            throw error
        }
        thread.withLock { $0 = started }
    }

    deinit {
        drain.deallocate()
    }

    private func loop(idleMicroseconds: Int, round: @Sendable () -> Outcome) {
        var backoff = 0
        while !stopping.load(ordering: .relaxed) {
            drainFrees()
            let outcome = round()
            rounds.add(1, ordering: .relaxed)
            switch outcome {
            case .gone:
                stopping.store(true, ordering: .relaxed)
            case .wrote:
                backoff = 0
            case .idle:
                backoff = 0
                sleepMicroseconds(idleMicroseconds)
            case .refused:
                refusedRounds.add(1, ordering: .relaxed)
                backoff = min(max(2 * backoff, 1000), 100_000)
                sleepMicroseconds(backoff)
            }
        }
        drainFrees()
        running.store(false, ordering: .releasing)
    }

    /// Frees every queued handle in the tier, 256 per call.
    private func drainFrees() {
        while true {
            var n = 0
            while n < Self.drainCapacity, let handle = frees.pop() {
                drain[n] = handle
                n += 1
            }
            if n == 0 { return }
            tier.free(UnsafeBufferPointer(start: drain, count: n))
        }
    }

    /// Whether the thread still runs.
    public var isRunning: Bool { running.load(ordering: .acquiring) }

    /// Rounds run so far, and of those the ones the tier refused.
    public var roundCounts: (rounds: Int, refused: Int) {
        (rounds.load(ordering: .relaxed), refusedRounds.load(ordering: .relaxed))
    }

    /// Asks the thread to end after its current round (it drains the free queue first) and
    /// detaches it; does not wait. Safe from any thread, the thread itself included (a store's
    /// `deinit` may run there).
    public func requestStop() {
        stopping.store(true, ordering: .relaxed)
        thread.withLock { current in
            current?.detach()
            current = nil
        }
    }

    /// Ends the thread and waits for it: the round in progress finishes, the free queue is
    /// drained into the tier. Call it before closing the tier. Not from the thread itself.
    public func stop() {
        // Not requestStop(): that detaches the thread, and nothing would be left to join, so the
        // tier could be closed under a round still writing to it.
        stopping.store(true, ordering: .relaxed)
        let joined = thread.withLock { current -> NativeThread? in
            defer { current = nil }
            return current
        }
        joined?.join()
    }
}
