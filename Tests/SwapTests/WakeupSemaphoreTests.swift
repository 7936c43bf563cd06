import Synchronization
import SystemSupport
import Testing
@testable import Swap

@Suite struct WakeupSemaphoreTests {
    @Test func aWaitWithoutAPostEndsAtItsDeadline() {
        let semaphore = WakeupSemaphore()
        semaphore.wait(nanoseconds: 1_000_000)
        semaphore.checkInvariants()
    }

    @Test func aPostFromAnotherThreadWakesTheWaiter() {
        let shared = Shared(WakeupSemaphore())
        let woken = Atomic<Bool>(false)
        NativeThread.runAll(2) { t in
            if t == 0 {
                // A deadline far beyond the test's life: only the post ends this wait.
                shared.value.wait(nanoseconds: 600_000_000_000)
                woken.store(true, ordering: .relaxed)
            } else {
                shared.value.post()
            }
        }
        let wasWoken = woken.load(ordering: .relaxed)
        #expect(wasWoken)
    }
}
