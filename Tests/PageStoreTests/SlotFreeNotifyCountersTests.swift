import Testing
@testable import PageStore

@Suite struct SlotFreeNotifyCountersTests {
    @Test func aBusySlotCountsAMissAndEveryNotificationCounts() {
        let counters = SlotFreeNotifyCounters()
        #expect(counters.notify(takingLock: { true }))
        #expect(!counters.notify(takingLock: { false }))
        #expect(counters.notify(takingLock: { true }))
        #expect(counters.notifyFree == 3)
        #expect(counters.missFree == 1)
        counters.reset()
        #expect(counters.notifyFree == 0 && counters.missFree == 0)
    }
}
