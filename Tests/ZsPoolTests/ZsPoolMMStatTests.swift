import Testing

@testable import ZsPool

@Suite struct ZsPoolMMStatTests {
    @Test func theLineMatchesTheKernelsFormat() {
        let stat = ZsPoolMMStat(
            origDataSize: 67_117_056, comprDataSize: 25_379_356, memUsedTotal: 27_369_472, memLimit: 0,
            memUsedMax: 27_369_472, samePages: 698, pagesCompacted: 0, hugePages: 15, hugePagesSince: 15)
        #expect(stat.line == "67117056 25379356 27369472        0 27369472      698        0       15       15\n")
    }

    @Test func fieldsPadToEightColumnsAndNeverTruncate() {
        #expect(ZsPoolMMStat.field(0) == "       0")
        #expect(ZsPoolMMStat.field(12_345_678) == "12345678")
        #expect(ZsPoolMMStat.field(1_234_567_890) == "1234567890")
    }
}
