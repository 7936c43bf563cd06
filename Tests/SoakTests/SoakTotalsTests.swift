import FoundationEssentials
import SystemSupport
import Testing

@testable import Soak

@Suite struct SoakTotalsTests {
    @Test func addingSumsCountsAndKeepsTheFirstDetails() {
        var a = SoakTotals()
        a.rounds = 2
        a.roundsByBackend = ["zram": 2]
        a.operations = 10
        a.addMismatch("first")
        var b = SoakTotals()
        b.rounds = 1
        b.roundsByBackend = ["zram": 1, "zswap+file": 1]
        b.operations = 5
        b.crashes = 1
        for i in 0..<30 { b.addMismatch("b\(i)") }
        b.addLeak("leak")
        a.add(b)
        #expect(a.rounds == 3 && a.operations == 15 && a.crashes == 1)
        #expect(a.roundsByBackend == ["zram": 3, "zswap+file": 1])
        #expect(a.mismatches == 31)
        #expect(a.mismatchDetails.count == SoakTotals.detailLimit)
        #expect(a.mismatchDetails.first == "first")
        #expect(a.leaks == 1 && a.leakDetails == ["leak"])
        #expect(a.summary.contains("mismatches 31, leaks 1, crashes 1"))
    }

    @Test func footprintsKeepTheWorstDifferenceFromTheBaseline() {
        var figures = FootprintFigures()
        let baseline = ProcessFootprint(openDescriptors: 5, mappings: 100, threads: 2, residentBytes: 10 << 20)
        figures.record(ProcessFootprint(openDescriptors: 5, mappings: 110, threads: 2, residentBytes: 14 << 20), baseline: baseline)
        figures.record(ProcessFootprint(openDescriptors: 6, mappings: 104, threads: 2, residentBytes: 11 << 20), baseline: baseline)
        #expect(figures.samples == 2)
        #expect(figures.maxDescriptorDelta == 1 && figures.maxMappingDelta == 10 && figures.maxThreadDelta == 0)
        #expect(figures.maxRSSDeltaKiB == 4096 && figures.lastRSSDeltaKiB == 1024)
        var merged = FootprintFigures()
        merged.add(figures)
        merged.add(FootprintFigures())
        #expect(merged == figures)
    }

    @Test func survivesAJSONRoundTrip() throws {
        var totals = SoakTotals()
        totals.rounds = 4
        totals.addMismatch("page 3 should hold version 2 but reads as zeros")
        totals.footprint.maxRSSDeltaKiB = 12
        let text = try SoakWire.json(totals)
        #expect(try JSONDecoder().decode(SoakTotals.self, from: Data(text.utf8)) == totals)
    }
}
