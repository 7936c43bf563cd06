import Testing
@testable import Swap

@Suite struct SwapStatisticsTests {
    @Test func everyEventFillsTheFieldOfItsName() {
        let counters = SwapCounters()
        for (n, event) in SwapCounters.Event.allCases.enumerated() {
            for _ in 0...n { counters.count(event) }
        }
        let s = counters.snapshot()
        for (n, event) in SwapCounters.Event.allCases.enumerated() {
            #expect(s[keyPath: event.field] == n + 1, "\(event)")
        }
        #expect(s.swapIns == 1 && s.victimCacheFills == SwapCounters.Event.allCases.count)
    }

    @Test func resetZeroesEventsAndRestartsTheMaximumFromTheCharge() {
        let counters = SwapCounters()
        counters.count(.swapOuts)
        counters.chargedMax.store(50, ordering: .relaxed)
        counters.charged.store(20, ordering: .relaxed)
        counters.keptCopies.store(3, ordering: .relaxed)
        counters.reset()
        let s = counters.snapshot()
        #expect(s.swapOuts == 0)
        #expect(s.residentMaxPages == 20)
        #expect(s.keptCopies == 3, "a gauge, not an event")
    }
}
