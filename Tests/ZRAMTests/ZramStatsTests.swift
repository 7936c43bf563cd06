import Testing
import ZsPool

@testable import ZRAM

@Suite struct ZramStatsTests {
    @Test func mmStatIsThePoolsRecord() {
        // Its line and fields are tested with the pool (ZsPoolMMStatTests).
        #expect(ZramMMStat.self == ZsPoolMMStat.self)
    }

    @Test func ioStatPrintsTheRetiredInvalidIOFieldAsZero() {
        #expect(ZramIOStat(failedReads: 1, failedWrites: 22, notifyFree: 333).line == "       1       22 0      333\n")
    }

    @Test func debugStatAndBdStatLines() {
        #expect(ZramDebugStat(missFree: 5).line == "version: 1\n0        5\n")
        #expect(ZramBDStat(count: 1, reads: 2, writes: 3).line == "       1        2        3\n")
    }

    @Test func countersResetToZeroButBdCountFollowsTheSlots() {
        let counters = ZramCounters()
        counters.failedReads.add(3, ordering: .relaxed)
        counters.writebackCancelled.add(1, ordering: .relaxed)
        counters.bdCount.add(2, ordering: .relaxed)
        counters.reset()
        #expect(counters.failedReads.load(ordering: .relaxed) == 0)
        #expect(counters.writebackCancelled.load(ordering: .relaxed) == 0)
        #expect(counters.bdCount.load(ordering: .relaxed) == 2)
    }
}
