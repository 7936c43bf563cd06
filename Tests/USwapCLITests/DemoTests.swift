#if canImport(Glibc)
import Glibc
#endif
import Swap
import TestSupport
import Testing
@testable import USwapCLI


@Suite struct DemoTests {
    @Test func tinyDemoVerifiesEveryRecord() throws {
        if case .failure(let error) = SwapRegion.probe() {
            CIGate.unavailable("userfaultfd, for the region demo: \(error)")
            return
        }
        let demo = DemoRun(sizeMiB: 4, residentMiB: 1, operations: 5000, updatePercent: 30)
        let result = try demo.run(progress: false)
        #expect(result.mode == .region)
        #expect(result.mismatches == 0 && result.operations.badRecords == 0)
        #expect(result.records == demo.workload.table.recordCount * 15 / 16)
        #expect(result.operations.updates > 0 && result.swapIns > 0)
        #expect(result.poolBytes > 0 && result.residentMaxBytes <= 1 << 20)
        #expect(result.report.contains("verified: all"))
        #expect(try jsonText(result).contains("\"verified\":true"))
    }

    @Test func withoutARegionTheDeviceAloneStoresAndVerifiesTheTable() throws {
        let demo = DemoRun(sizeMiB: 2, residentMiB: 1, operations: 1000, updatePercent: 30)
        let result = try demo.run(forceDevice: true, progress: false)
        #expect(result.mode == .device("--device-only"))
        #expect(result.mismatches == 0)
        #expect(result.samePages == 512 / 16)
        #expect(result.comprBytes > 0 && result.comprBytes < result.origBytes)
        #expect(result.report.contains("userfaultfd is not usable here"))
        #expect(result.report.contains("verified: all"))
    }

    @Test func countsAreGroupedInThousands() {
        #expect(grouped(1_234_567) == "1,234,567" && grouped(12) == "12" && grouped(-1000) == "-1,000")
    }
}
