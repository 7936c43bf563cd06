import Testing

@testable import RedisTier

@Suite("RedisTierStatistics: the counters as named lines")
struct RedisTierStatisticsTests {
    @Test("A snapshot reads every counter, and lines name each one")
    func snapshotAndLines() {
        let counters = RedisTierCounters()
        counters.acknowledgedWrites.add(3, ordering: .relaxed)
        counters.askRedirects.add(2, ordering: .relaxed)
        counters.leaseLapses.add(1, ordering: .relaxed)
        let s = counters.snapshot(pendingFrees: 7)
        #expect(s.tier.acknowledgedWrites == 3 && s.askRedirects == 2 && s.leaseLapses == 1 && s.tier.pendingFrees == 7)
        let lines = s.lines.split(separator: "\n")
        #expect(lines.contains("acknowledged_writes 3"))
        #expect(lines.contains("ask_redirects 2"))
        #expect(lines.contains("pending_frees 7"))
        #expect(lines.count == 24)
    }
}
