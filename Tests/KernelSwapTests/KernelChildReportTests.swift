import Foundation
import SystemPackage
import SystemSupport
import Testing

@testable import KernelSwap

@Suite struct KernelChildReportTests {
    @Test func childReportSurvivesItsJSONLine() throws {
        let report = KernelChildReport(
            usPerTouch: 12.5, cpuUsPerTouch: 11.25, majorFaults: 225_900, touchSeconds: 3.75, fillSeconds: 1.5,
            mmStat: nil, mmStatLine: "780955648 305358464 333250560 0 333250560 0 0 10 26", verified: false,
            mismatches: 3, extra: ["lookups": 5000])
        let parsed = try KernelChildReport(parsing: "progress noise\n" + report.jsonLine + "\n")
        #expect(parsed == report)
        #expect(throws: KernelSwapError.self) { _ = try KernelChildReport(parsing: "no json here") }
        #expect(throws: KernelSwapError.self) { _ = try KernelChildReport(parsing: "{\"us_per_touch\": 1}") }
    }

    @Test func zswapChildReportSurvivesItsJSONLineAndZramReportsHaveNoZswap() throws {
        var report = KernelChildReport(
            usPerTouch: 30.5, cpuUsPerTouch: 20.25, majorFaults: 1200, touchSeconds: 2, fillSeconds: 1,
            mmStat: nil, mmStatLine: "", verified: true, mismatches: 0,
            zswap: KernelZswapReport(figures: KernelZswapFigures(poolBytes: 10 << 20, storedBytes: 40 << 20)))
        let childLine = try KernelChildReport(parsing: report.jsonLine)
        #expect(childLine == report)
        #expect(childLine.zswap?.storedBytes == 40 << 20 && childLine.zswap?.counters == KernelZswapCounters())
        // What the parent adds survives too.
        report.zswap?.counters = KernelZswapCounters(stores: 9000, loads: 7000, writtenBack: 12, deviceReads: 12, deviceWrites: 30)
        report.zswap?.compressor = "lzo"
        report.zswap?.compressorNote = "lz4 is not in this kernel's crypto API, so zswap compresses with lzo"
        report.zswap?.maxPoolPercent = 7
        let parsed = try KernelChildReport(parsing: "noise\n" + report.jsonLine + "\n")
        #expect(parsed == report)
        #expect(parsed.zswap?.writtenBackPages == 12)
        let summary = try #require(parsed.zswap?.summaryLine)
        #expect(summary.contains("compressor lzo (lz4 is not in this kernel's crypto API"))
        #expect(summary.contains("max_pool_percent 7") && summary.contains("12 pages written back"))
        // A zram child's line: no zswap figures.
        let zram = KernelChildReport(
            usPerTouch: 1, cpuUsPerTouch: 1, majorFaults: 1, touchSeconds: 1, fillSeconds: 1, mmStat: nil,
            mmStatLine: "1 2 3 0 3 0 0 0 0", verified: true, mismatches: 0)
        #expect(try KernelChildReport(parsing: zram.jsonLine).zswap == nil)
        #expect(zram.jsonLine.contains("zswap") == false)
    }

    @Test func touchPhaseCountersTravelApartFromTheWholeRunsCounters() throws {
        let touch = KernelZswapCounters(stores: 300, loads: 200, writtenBack: 5, deviceReads: 7, deviceWrites: 11)
        var zswap = KernelZswapReport(figures: KernelZswapFigures(poolBytes: 1 << 20, storedBytes: 4 << 20), touchCounters: touch)
        let members = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(zswap)) as? [String: Any])
        #expect(members["zswap_touch_stores"] as? Int == 300 && members["swap_file_touch_writes"] as? Int == 11)
        #expect(members["zswap_stores"] as? Int == 0)
        zswap.counters = KernelZswapCounters(stores: 900, loads: 800, writtenBack: 9, deviceReads: 70, deviceWrites: 110)
        let report = KernelChildReport(
            usPerTouch: 1, cpuUsPerTouch: 1, majorFaults: 1, touchSeconds: 1, fillSeconds: 1, mmStat: nil,
            mmStatLine: "", verified: true, mismatches: 0)
        var withZswap = report
        withZswap.zswap = zswap
        let parsed = try KernelChildReport(parsing: withZswap.jsonLine)
        #expect(parsed.zswap?.touchCounters == touch)
        #expect(parsed.zswap?.counters.deviceReads == 70)
        #expect(parsed == withZswap)
        // A child that did not count its touch phase: no touch counters, not zeros.
        var untimed = report
        untimed.zswap = KernelZswapReport(figures: KernelZswapFigures(poolBytes: 1, storedBytes: 2))
        #expect(try KernelChildReport(parsing: untimed.jsonLine).zswap?.touchCounters == nil)
    }

    @Test func aLineWithAMissingOrMistypedMemberIsRefusedWithTheLine() throws {
        let report = KernelChildReport(
            usPerTouch: 1, cpuUsPerTouch: 1, majorFaults: 1, touchSeconds: 1, fillSeconds: 1, mmStat: KernelMMStat(values: [4096, 100, 8192, 0, 8192, 0, 0, 0, 0]),
            mmStatLine: "4096 100 8192 0 8192 0 0 0 0", verified: true, mismatches: 0)
        #expect(report.zramComprDataSize == 100 && report.compressedBytes == 8192)
        let mistyped = report.jsonLine.replacingOccurrences(of: "\"verified\":true", with: "\"verified\":\"yes\"")
        #expect { _ = try KernelChildReport(parsing: mistyped) } throws: { error in
            guard case KernelSwapError.failed(let message) = error else { return false }
            return message.contains("not a report") && message.contains("yes")
        }
        // The stand-in children of the tests print integers where the report has doubles.
        let integers = #"{"us_per_touch":3,"cpu_us_per_touch":2,"major_faults":1,"touch_seconds":1,"fill_seconds":0,"zram_orig_data_size":0,"zram_compr_data_size":0,"zram_mem_used_total":0,"zram_mm_stat":"","verified":true,"mismatches":0,"x_lookups":5}"#
        let parsed = try KernelChildReport(parsing: integers)
        #expect(parsed.usPerTouch == 3 && parsed.extra == ["lookups": 5])
    }
}
