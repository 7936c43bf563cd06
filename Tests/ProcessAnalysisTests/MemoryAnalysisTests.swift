import Foundation
import PageCodecs
import PageStore
import SystemPackage
import SystemSupport
import Testing
import Workloads
import ZRAM

@testable import ProcessAnalysis

/// The helper's pattern counts used throughout: distinct so a mix-up shows.
private let patternCounts: [MemoryPattern: Int] = [.zero: 16, .same: 24, .random: 32, .text: 40, .untouched: 8]

/// The report's figures for the helper mapping of `pattern`.
private func figures(_ pattern: MemoryPattern, in report: MemoryAnalysisReport, helper: PatternHelper) throws -> MappingAnalysis {
    let area = try #require(helper.areas[pattern])
    return try #require(report.mappings.first { $0.mapping.start == area.address }, "no mapping for \(pattern)")
}

/// Reads pages through another reader, and kills the helper after the first batch: the
/// process exits in the middle of the scan.
private final class KillingReader: ProcessPageReader {
    let inner: any ProcessPageReader
    let helper: PatternHelper
    var batches = 0
    init(inner: any ProcessPageReader, helper: PatternHelper) {
        self.inner = inner
        self.helper = helper
    }
    func read(_ segments: UnsafeBufferPointer<RemoteSegment>, into buffer: UnsafeMutableRawBufferPointer)
        throws(ProcessMemoryError) -> Int
    {
        batches += 1
        if batches == 2 { helper.kill() }
        return try inner.read(segments, into: buffer)
    }
}

/// A reader that fails with a chosen error, as the kernel would.
private final class FailingReader: ProcessPageReader {
    let error: ProcessMemoryError
    init(_ error: ProcessMemoryError) { self.error = error }
    func read(_ segments: UnsafeBufferPointer<RemoteSegment>, into buffer: UnsafeMutableRawBufferPointer)
        throws(ProcessMemoryError) -> Int
    { throw error }
}

@Suite("Memory analysis of a running process")
struct MemoryAnalysisTests {
    let pageSize = MemoryAnalysis.systemPageSize

    @Test("counts of zero, same-filled, random, text and untouched pages are exact", arguments: ["lz4", "zstd-1"])
    func countsAreExact(codec: String) throws {
        let helper = try PatternHelper(patternCounts)
        defer { helper.stop() }
        let factory = try #require(PageCodecFactory(name: codec))
        let report = try MemoryAnalysis(pid: helper.pid, codecs: [factory], pool: .zram).run()

        let zero = try figures(.zero, in: report, helper: helper)
        #expect(zero.scannedPages == 16 && zero.zeroPages == 16 && zero.sameFilledPages == 0)
        let same = try figures(.same, in: report, helper: helper)
        #expect(same.scannedPages == 24 && same.sameFilledPages == 24 && same.zeroPages == 0)
        let random = try figures(.random, in: report, helper: helper)
        #expect(random.scannedPages == 32 && random.zeroPages == 0 && random.sameFilledPages == 0)
        let text = try figures(.text, in: report, helper: helper)
        #expect(text.scannedPages == 40 && text.zeroPages == 0 && text.sameFilledPages == 0)
        let untouched = try figures(.untouched, in: report, helper: helper)
        #expect(untouched.scannedPages == 0 && untouched.notPresentPages == 8 && untouched.presentPages == 0)

        // Totals hold the helper's pages and agree with each other.
        #expect(!report.processExited && report.vanishedPages == 0)
        #expect(report.selectedPages == report.presentPages && report.scannedPages == report.presentPages)
        #expect(report.presentPages + report.notPresentPages + report.swappedPages == report.virtualPages)
        #expect(report.zeroPages >= 16 && report.sameFilledPages >= 24 && report.notPresentPages >= 8)

        // The pool stored every scanned page: its mm_stat says so.
        let c = try #require(report.codecs.first)
        #expect(c.name == codec)
        #expect(c.pool.origDataSize == report.scannedPages * pageSize)
        #expect(c.pool.samePages == report.zeroPages + report.sameFilledPages)
        #expect(c.pool.hugePages >= 32, "the random pages are stored raw")
        #expect(c.pool.memUsedTotal > 0 && c.pool.memUsedTotal < c.pool.origDataSize)
        #expect(c.histogram.reduce(0, +) == report.scannedPages - c.pool.samePages)
        #expect(c.rawPages >= 32 && c.histogram[3] >= 32)
        #expect(c.savedBytes == c.pool.origDataSize - c.pool.memUsedTotal)
        #expect(text.compressedBytes[0] <= 40 * pageSize / 4, "text pages land in the first quarter")
        #expect(random.compressedBytes[0] == 32 * pageSize)
    }

    @Test("mappings rank by ratio: same-filled first, the text above the random, the random worst")
    func mappingOrder() throws {
        let helper = try PatternHelper(patternCounts)
        defer { helper.stop() }
        let report = try MemoryAnalysis(pid: helper.pid, codecs: [.lz4], pool: .zram).run()
        let ranked = report.bestMappings(codec: 0, count: .max)
        func rank(_ name: MemoryPattern) throws -> Int {
            let area = try #require(helper.areas[name])
            return try #require(ranked.firstIndex { $0.mapping.start == area.address })
        }
        #expect(try figures(.zero, in: report, helper: helper).ratio(codec: 0, pageSize: pageSize) == .infinity)
        #expect(try figures(.same, in: report, helper: helper).ratio(codec: 0, pageSize: pageSize) == .infinity)
        #expect(try rank(.same) < rank(.text) && rank(.zero) < rank(.text))
        #expect(try rank(.text) < rank(.random))
        let random = try figures(.random, in: report, helper: helper)
        #expect(report.worstMappings(codec: 0).first?.mapping == random.mapping, "random compresses worst of all")
        #expect(report.bestMappings(codec: 0).count <= 5 && report.worstMappings(codec: 0).count <= 5)
        let text = try figures(.text, in: report, helper: helper)
        #expect(try #require(text.ratio(codec: 0, pageSize: pageSize)) > 10)
    }

    @Test("the dump holds exactly the scanned pages, bench device reads it, and a ZramDevice given it agrees")
    func dumpRoundTrips() throws {
        let helper = try PatternHelper(patternCounts)
        defer { helper.stop() }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("uswap-analyze-\(getpid()).dump").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var analysis = MemoryAnalysis(pid: helper.pid, codecs: [.lz4], pool: .zram)
        analysis.dumpPath = path
        let report = try analysis.run()

        let data = try #require(FileManager.default.contents(atPath: path))
        #expect(data.count == report.scannedPages * pageSize)
        // Pages are in address order: a mapping's pages start after the earlier mappings' pages.
        for name in [MemoryPattern.zero, .same, .random, .text] {
            let area = try #require(helper.areas[name])
            let index = try #require(report.mappings.firstIndex { $0.mapping.start == area.address })
            let first = report.mappings[..<index].reduce(0) { $0 + $1.scannedPages }
            for page in 0..<area.pages {
                let start = (first + page) * pageSize
                if Array(data[start..<start + pageSize]) != name.expectedPage(page, pageSize: pageSize) {
                    Issue.record("dump page \(page) of \(name) differs from what the helper wrote")
                    break
                }
            }
        }
        // `uswap bench device --corpus` loads it.
        let corpus = try CorpusFile(path: path)
        #expect(corpus.pageCount == report.scannedPages && corpus.remainderBytes == 0)
        // The report's figures are a ZramDevice's own for exactly these pages.
        let device = try ZramDevice(ZramConfiguration(disksize: corpus.pageCount * pageSize, codec: .lz4))
        for slot in 0..<corpus.pageCount { try device.writePage(corpus.page(slot), at: slot) }
        let pool = try #require(report.codecs.first?.pool)
        #expect(device.mmStat.memUsedTotal == pool.memUsedTotal)
        #expect(device.mmStat.comprDataSize == pool.comprDataSize)
        #expect(device.mmStat.samePages == pool.samePages)
    }

    @Test("sampling reads an evenly spread share of the present pages", arguments: [50.0, 10.0])
    func sampling(percent: Double) throws {
        let helper = try PatternHelper([.random: 200, .text: 100])
        defer { helper.stop() }
        var analysis = MemoryAnalysis(pid: helper.pid, codecs: [.lz4], pool: .zram)
        analysis.samplePercent = percent
        let report = try analysis.run()
        let expected = Double(report.presentPages) * percent / 100
        #expect(abs(Double(report.selectedPages) - expected) <= 1)
        #expect(report.scannedPages == report.selectedPages)
        #expect(report.samplePercent == percent)
        let random = try figures(.random, in: report, helper: helper)
        #expect(abs(Double(random.scannedPages) - 200 * percent / 100) <= 1, "spread evenly, not the first pages only")
        #expect(random.presentPages == 200)
        #expect(report.codecs[0].pool.origDataSize == report.scannedPages * pageSize)
    }

    @Test("a process that exits mid-scan gives the report of what was read, and a dump of it")
    func exitMidScan() throws {
        let helper = try PatternHelper(patternCounts)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("uswap-exit-\(getpid()).dump").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var analysis = MemoryAnalysis(pid: helper.pid, codecs: [.lz4], pool: .zram)
        analysis.batchPages = 8
        analysis.dumpPath = path
        analysis.reader = KillingReader(inner: try #require(VMReadvPageReader(pid: helper.pid)), helper: helper)
        let report = try analysis.run()
        #expect(report.processExited)
        #expect(report.scannedPages == 8, "the first batch was read before the exit")
        #expect(report.selectedPages > 8)
        #expect(report.codecs[0].pool.origDataSize == 8 * pageSize)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(size == 8 * pageSize)
    }

    @Test(
        "access refused while reading is a permission error, whoever runs the test",
        arguments: [Errno.notPermitted, .permissionDenied])
    func injectedPermissionError(code: Errno) throws {
        let helper = try PatternHelper([.text: 4])
        defer { helper.stop() }
        var analysis = MemoryAnalysis(pid: helper.pid, codecs: [.lz4], pool: .zram)
        analysis.reader = FailingReader(
            ProcessMemoryError(errno: code, pid: helper.pid, operation: "process_vm_readv", started: true))
        let error = try #require(throws: MemoryAnalysisError.self) { try analysis.run() }
        guard case .process(.permissionDenied(let pid, let operation)) = error else {
            Issue.record("expected permissionDenied, got \(error)")
            return
        }
        #expect(pid == helper.pid && operation == "process_vm_readv")
        #expect(error.description.contains("CAP_SYS_PTRACE"))
    }

    @Test("a process that does not exist is a clear error")
    func noSuchProcess() throws {
        let pid = try unusedPid()
        let error = try #require(throws: MemoryAnalysisError.self) {
            try MemoryAnalysis(pid: pid, codecs: [.lz4], pool: .zram).run()
        }
        guard case .process(.noSuchProcess(pid)) = error else {
            Issue.record("expected noSuchProcess, got \(error)")
            return
        }
        #expect(error.description.contains("no process with pid \(pid)"))
    }

    @Test("a sample outside (0, 100] is refused before anything is read", arguments: [0.0, -5, 100.5])
    func invalidSample(percent: Double) throws {
        var analysis = MemoryAnalysis(pid: getpid(), codecs: [.lz4], pool: .zram)
        analysis.samplePercent = percent
        let error = try #require(throws: MemoryAnalysisError.self) { try analysis.run() }
        guard case .invalidSample(percent) = error else {
            Issue.record("expected invalidSample, got \(error)")
            return
        }
    }

    @Test("a pool that cannot be made stops the analysis with its reason")
    func poolFailure() throws {
        let helper = try PatternHelper([.text: 2])
        defer { helper.stop() }
        let failing = AnalysisPoolFactory(make: { codec, _, _ in .failure(.pool(codec: codec.description, reason: "no room")) })
        let error = try #require(throws: MemoryAnalysisError.self) {
            try MemoryAnalysis(pid: helper.pid, codecs: [.lz4], pool: failing).run()
        }
        guard case .pool(let codec, let reason) = error else {
            Issue.record("expected a pool error, got \(error)")
            return
        }
        #expect(codec == "lz4" && reason == "no room")
    }
}
