#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KernelSwap
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

    @Test func theKernelsRAMIsItsMeasuredCgroupPeakPlusZramAndNullWhenUnread() throws {
        let demo = DemoRun(sizeMiB: 8, residentMiB: 2, operations: 10, updatePercent: 30)
        var result = DemoResult(run: demo, mode: .region)
        var k = KernelChildReport(
            usPerTouch: 3, cpuUsPerTouch: 2, majorFaults: 10, touchSeconds: 1, fillSeconds: 1, mmStat: nil, mmStatLine: "",
            verified: true, mismatches: 0)
        k.record(zramMMStat: .success(KernelMMStat(values: [4 << 20, 1 << 20, 3 << 19, 0, 3 << 19, 0, 0, 0, 0])))
        k.record(cgroupPeak: .success(3 << 19))
        result.kernel = .measured(k)
        let measured = try #require(try jsonObject(result)["kernel"] as? [String: Any])
        #expect(measured["ram_used_bytes"] as? Int == 3 << 20, "peak 1.5 MiB + zram 1.5 MiB, not the 2 MiB limit + zram")
        #expect(measured["cgroup_peak_bytes"] as? Int == 3 << 19 && measured["cgroup_limit_bytes"] as? Int == 2 << 20)
        #expect(result.report.contains("RAM 3.0 MiB (cgroup peak over the operations 1.5 MiB"))
        k.record(cgroupPeak: .failure(.failed("read memory.max_usage_in_bytes: gone")))
        result.kernel = .measured(k)
        let unread = try #require(try jsonObject(result)["kernel"] as? [String: Any])
        #expect(unread["ram_used_bytes"] is NSNull && unread["cgroup_peak_bytes"] is NSNull)
        #expect((unread["figures_unavailable"] as? [String: String])?["cgroup_peak_bytes"]?.contains("gone") == true)
        #expect(result.report.contains("RAM unavailable"))
    }

    @Test func countsAreGroupedInThousands() {
        #expect(grouped(1_234_567) == "1,234,567" && grouped(12) == "12" && grouped(-1000) == "-1,000")
    }
}
