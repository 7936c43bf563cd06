import Testing

@testable import ZRAM

@Suite struct ZramStatsTests {
    @Test func mmStatIsThePoolsRecordWithTheKernelsLine() {
        let stat = ZramMMStat(
            origDataSize: 67_117_056, comprDataSize: 25_379_356, memUsedTotal: 27_369_472, memLimit: 0,
            memUsedMax: 27_369_472, samePages: 698, pagesCompacted: 0, hugePages: 15, hugePagesSince: 15)
        #expect(stat.line == "67117056 25379356 27369472        0 27369472      698        0       15       15\n")
    }

    @Test func fieldsPadToEightColumnsAndNeverTruncate() {
        #expect(kernelField(0) == "       0")
        #expect(kernelField(12_345_678) == "12345678")
        #expect(kernelField(1_234_567_890) == "1234567890")
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
