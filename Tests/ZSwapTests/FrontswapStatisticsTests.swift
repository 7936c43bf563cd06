import Testing
@testable import ZSwap

@Suite struct FrontswapStatisticsTests {
    @Test func linesNameEveryCounterInDebugfsStyle() {
        var s = FrontswapStatistics()
        s.storedPages = 12
        s.poolLimitHit = 3
        s.file.punches = 2
        let lines = s.lines.split(separator: "\n")
        #expect(lines.first == "stored_pages 12")
        #expect(lines.contains("pool_limit_hit 3"))
        #expect(lines.contains("file_punches 2"))
        #expect(lines.allSatisfy { $0.split(separator: " ").count == 2 })
    }
}
