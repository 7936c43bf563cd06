import Testing

@testable import SystemSupport

/// Memory only ever touched under a SpinLock, so lost updates would show.
final class GuardedTotal: @unchecked Sendable {
    let lock = SpinLock()
    var total = 0
}

@Suite struct SpinLockTests {
    @Test func threadsIncrementingUnderTheLockLoseNoUpdates() {
        let guarded = GuardedTotal()
        NativeThread.runAll(4) { _ in
            for _ in 0..<20_000 { guarded.lock.withLock { guarded.total += 1 } }
        }
        #expect(guarded.lock.withLock { guarded.total } == 80_000)
    }

    @Test func withLockReleasesTheLockWhenTheBodyThrows() {
        struct Failure: Error {}
        let lock = SpinLock()
        #expect(throws: Failure.self) { try lock.withLock { () throws(Failure) in throw Failure() } }
        #expect(lock.withLock { 42 } == 42, "the lock is free again")
    }
}
