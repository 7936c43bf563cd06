import Testing
@testable import ZSwap

@Suite struct SlotStatesTests {
    @Test func locationChangesKeepTheLockAndClearReferenced() {
        let states = SlotStates(count: 4)
        #expect(states.location(2) == .empty)
        states.lock(2)
        states.setLocation(2, .pool)
        states.markReferenced(2)
        #expect(states.isReferenced(2) && states.isLocked(2))
        states.setLocation(2, .file)
        #expect(states.location(2) == .file)
        #expect(!states.isReferenced(2))
        #expect(states.isLocked(2))
        states.unlock(2)
        #expect(!states.isLocked(2))
        #expect(states.location(2) == .file)
        states.checkInvariants()
    }

    @Test func tryLockFailsOnAHeldSlotOnly() {
        let states = SlotStates(count: 2)
        #expect(states.tryLock(0))
        #expect(!states.tryLock(0))
        #expect(states.tryLock(1))
        states.unlock(0)
        states.unlock(1)
        states.checkInvariants()
    }

    @Test func clearReferencedReportsWhetherItWasSetEvenUnderAnotherThreadsLock() {
        let states = SlotStates(count: 1)
        states.lock(0)
        states.setLocation(0, .pool)
        states.markReferenced(0)
        #expect(states.clearReferenced(0))
        #expect(!states.clearReferenced(0))
        #expect(states.isLocked(0) && states.location(0) == .pool)
        states.unlock(0)
    }
}
