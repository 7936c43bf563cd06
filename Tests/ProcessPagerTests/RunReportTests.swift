import Foundation
import Testing

@testable import ProcessPager

@Suite struct RunReportTests {
    static func report() -> RunReport {
        var statistics = PagerStatistics()
        statistics.swapIns = 5
        statistics.swapOuts = 9
        var figures = PagerFigures()
        figures.poolMaxBytes = 1234
        figures.swappedMaxBytes = 8192
        return RunReport(
            command: ["python3", "x.py"], exitStatus: 0, wallSeconds: 1.5, programCpuSeconds: 1, pagerCpuSeconds: 0.25,
            configuration: PagerConfiguration(residentLimitBytes: 8 << 20, socketName: "t"), statistics: statistics, figures: figures,
            stdoutSha256: "ab", kernel: .init(unavailable: "--vs-kernel was not given"))
    }

    @Test func aKernelSideThatRanHasTheFieldsTheIssueNames() throws {
        var report = Self.report()
        report.kernel = .init(
            exitStatus: 137, wallSeconds: 3, cpuSeconds: 2, cgroupMaxUsageBytes: 100, zramMemUsedMaxBytes: 50, majorFaults: 7,
            oomKilled: true, stdoutSha256: "cd", outputsIdentical: false, restored: true)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let object = try #require(try JSONSerialization.jsonObject(with: encoder.encode(report)) as? [String: Any])
        let kernel = try #require(object["kernel"] as? [String: Any])
        for key in ["exit_status", "wall_seconds", "cpu_seconds", "memory_bytes", "major_faults", "stdout_sha256", "outputs_identical", "oom_killed"] {
            #expect(kernel[key] != nil, "missing kernel.\(key)")
        }
        #expect(kernel["memory_bytes"] as? Int == 150)
        #expect(kernel["unavailable"] == nil)
    }

    @Test func theJSONHasTheFieldsTheIssueNames() throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let object = try #require(try JSONSerialization.jsonObject(with: encoder.encode(Self.report())) as? [String: Any])
        for key in [
            "command", "exit_status", "wall_seconds", "cpu_seconds", "resident_limit_bytes", "resident_max_bytes", "pool_max_bytes",
            "memory_max_bytes", "unmanaged_anon_max_bytes", "swap_ins", "swap_outs", "p50_us", "p99_us", "stdout_sha256", "kernel",
        ] {
            #expect(object[key] != nil, "missing \(key)")
        }
        #expect((object["kernel"] as? [String: Any])?["unavailable"] as? String == "--vs-kernel was not given")
        #expect(object["swapped_max_bytes"] as? Int == 8192)
        #expect(object["cpu_seconds"] as? Double == 1.25)
    }

    @Test func aReportDecodesBackUnchanged() throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let report = Self.report()
        #expect(try decoder.decode(RunReport.self, from: encoder.encode(report)) == report)
    }

    @Test func theCompressionRatioIsOrigOverCompr() {
        var statistics = PagerStatistics()
        #expect(statistics.compressionRatio == 0)
        statistics.origDataSize = 4096 * 3
        statistics.comprDataSize = 4096
        #expect(statistics.compressionRatio == 3)
    }
}
