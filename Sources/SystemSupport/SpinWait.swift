/// The package's one spin-then-yield loop, for waits that are expected to end within
/// nanoseconds (a slot lock, a page whose state another thread is changing).
///
/// Spinning is cheap while the other thread runs on another processor; once it has gone on for
/// ``yieldAfter`` rounds the holder was probably preempted, and yielding lets it finish. Every
/// wait loop in the package calls ``spin()`` so the policy lives here, once. Async-signal-safe.
@frozen public struct SpinWait: Sendable {
    /// Rounds that spin before each yield. 32 rounds of a relaxed load and a compare-and-swap
    /// is about the cost of one `sched_yield` system call (~0.3 us here), so neither dominates.
    public static let defaultYieldAfter = 32

    /// Rounds that spin before each yield.
    public let yieldAfter: Int
    /// Rounds spun since the last yield.
    @usableFromInline var rounds = 0
    /// Yields made so far (how long the wait really was).
    public var yields = 0

    /// A wait that yields after `yieldAfter` spinning rounds.
    @inlinable @inline(__always)
    public init(yieldAfter: Int = SpinWait.defaultYieldAfter) { self.yieldAfter = yieldAfter }

    /// One round of waiting: spins, or yields the processor once every ``yieldAfter`` rounds.
    @inlinable @inline(__always)
    public mutating func spin() {
        rounds += 1
        if rounds >= yieldAfter {
            rounds = 0
            yields += 1
            NativeThread.yield()
        }
    }
}
