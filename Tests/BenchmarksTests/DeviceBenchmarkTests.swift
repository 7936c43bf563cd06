#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
@testable import Benchmarks
import Workloads

/// A generated corpus file: zero pages, same-filled pages, text-like pages and random pages.
struct GeneratedCorpus {
    let path: String
    let pages: Int
    /// How many pages are one repeated 8-byte word (zero pages included).
    let sameFilledPages: Int

    init(pages: Int, trailingBytes: Int = 0) throws {
        var bytes = [UInt8](repeating: 0, count: pages * 4096 + trailingBytes)
        var state: UInt64 = 0xDEAD_BEEF_CAFE_F00D
        var same = 0
        for page in 0..<pages {
            let base = page * 4096
            switch page % 5 {
            case 0: same += 1  // zero page
            case 1:
                same += 1
                for i in 0..<4096 { bytes[base + i] = UInt8(truncatingIfNeeded: 0x5A + i % 8) }
            case 2, 3:
                for i in 0..<4096 { bytes[base + i] = UInt8(truncatingIfNeeded: (i / 7 + page * 3) % 20 + 65) }
            default:
                for i in 0..<4096 {
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    bytes[base + i] = UInt8(truncatingIfNeeded: state >> 57)
                }
            }
        }
        path = FileManager.default.temporaryDirectory.appendingPathComponent("uswap-device-corpus-\(UUID().uuidString).bin").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        self.pages = pages
        sameFilledPages = same
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

@Suite struct DeviceBenchmarkTests {
    @Test(arguments: [1, 3])
    func everyPageReadsBackAndMMStatCountsThem(threads: Int) throws {
        let corpus = try GeneratedCorpus(pages: 301)
        defer { corpus.remove() }
        let file = try CorpusFile(path: corpus.path)
        let figures = try DeviceBenchmark.measureZram(
            corpus: file, options: DeviceBenchOptions(corpusPath: corpus.path, threads: threads, runs: 2))
        #expect(figures.verified)
        #expect(figures.mismatches == 0)
        #expect(figures.mmStat.origDataSize == corpus.pages * 4096)
        #expect(figures.mmStat.samePages == corpus.sameFilledPages)
        #expect(figures.mmStat.comprDataSize > 0 && figures.mmStat.comprDataSize < corpus.pages * 4096)
        #expect(figures.disksize == corpus.pages * 4096)
        #expect(figures.slotTableBytes >= corpus.pages * 16)
        #expect(figures.writeMiBps > 0 && figures.writeMiBps.isFinite)
        #expect(figures.readMiBps > 0 && figures.readMiBps.isFinite)
    }

    @Test func theJSONHasTheScoreboardsKeys() throws {
        let corpus = try GeneratedCorpus(pages: 64, trailingBytes: 100)
        defer { corpus.remove() }
        let report = try DeviceBenchmark.run(DeviceBenchOptions(corpusPath: corpus.path, runs: 1))
        #expect(report.problems.isEmpty)
        #expect(report.remainderBytes == 100)
        let object = try jsonObject(report)
        for key in ["mm_stat", "slot_table_bytes", "write_mibps", "read_mibps", "max_rss_bytes", "verified", "mismatches", "kernel"] {
            #expect(object[key] != nil, "missing \(key)")
        }
        let mmStat = try #require(object["mm_stat"] as? [String: Int])
        #expect(Set(mmStat.keys) == Set([
            "orig_data_size", "compr_data_size", "mem_used_total", "mem_limit", "mem_used_max",
            "same_pages", "pages_compacted", "huge_pages", "huge_pages_since",
        ]))
        #expect(mmStat["orig_data_size"] == 64 * 4096)
        #expect(object["verified"] as? Bool == true)
        #expect(object["mismatches"] as? Int == 0)
        #expect((object["max_rss_bytes"] as? Int ?? 0) > 0)
        let kernel = try #require(object["kernel"] as? [String: Any])
        #expect(kernel["unavailable"] as? String == "not measured: add --vs-kernel")
        #expect(report.table.contains("kernel: unavailable (not measured: add --vs-kernel)"))
    }

    @Test func aMeasuredKernelGetsTheSameKeysAndRatios() throws {
        let corpus = try GeneratedCorpus(pages: 32)
        defer { corpus.remove() }
        var report = try DeviceBenchmark.run(DeviceBenchOptions(corpusPath: corpus.path, runs: 1))
        var kernel = report.ours
        kernel.slotTableComputed = true  // as measureKernel makes it: the kernel's table is not readable
        kernel.mmStat.memUsedTotal = report.ours.mmStat.memUsedTotal * 2
        kernel.writeMiBps = report.ours.writeMiBps / 4
        report.kernel = .measured(kernel)
        let object = try jsonObject(report)
        let k = try #require(object["kernel"] as? [String: Any])
        for key in ["mm_stat", "slot_table_bytes_computed", "write_mibps", "read_mibps", "verified", "mismatches"] {
            #expect(k[key] != nil, "kernel lacks \(key)")
        }
        #expect(k["slot_table_bytes"] == nil, "the kernel's slot table is a model: named so, never as a measurement")
        #expect(object["slot_table_bytes"] as? Int == report.ours.slotTableBytes, "ours is measured, where the scoreboard reads it")
        #expect(report.table.contains("slot_table_bytes (kernel: computed)"))
        let ratios = try #require(object["ratios"] as? [String: Double])
        #expect(abs((ratios["mem_used_total"] ?? 0) - 0.5) < 1e-9)
        #expect(abs((ratios["write_mibps"] ?? 0) - 4) < 1e-9)
        let header = try #require(report.table.split(separator: "\n").dropFirst().first)
        #expect(header.contains("uswap/kernel"))
    }

    @Test func aMissingCorpusIsAClearError() {
        #expect(throws: DeviceBenchError.corpus(.missing(path: "/nonexistent/corpus.bin"))) {
            try DeviceBenchmark.run(DeviceBenchOptions(corpusPath: "/nonexistent/corpus.bin"))
        }
    }

    @Test(arguments: [(10, 1), (10, 3), (16386, 2), (5, 5), (7, 4)])
    func pageRangesSplitEveryPageOnceContiguously(pages: Int, count: Int) {
        let ranges = (0..<count).map { pageRange($0, of: count, pages: pages) }
        #expect(ranges.first?.lowerBound == 0)
        #expect(ranges.last?.upperBound == pages)
        for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
        let sizes = ranges.map(\.count)
        #expect((sizes.max() ?? 0) - (sizes.min() ?? 0) <= 1)
    }

    @Test(arguments: [1, 2, 5])
    func timedThreadsRunEveryIndexOnce(count: Int) {
        let box = SeenBox()
        let seconds = timedOnThreads(count) { index in box.add(index) }
        #expect(box.values.sorted() == Array(0..<count))
        #expect(seconds >= 0)
    }

    @Test func kernelAlgorithmNamesFollowTheKernel() {
        #expect(DeviceBenchmark.kernelAlgorithm(for: .lz4) == ("lz4", nil))
        #expect(DeviceBenchmark.kernelAlgorithm(for: .init(.zstd(level: 3))) == ("zstd", "level=3"))
    }

    @Test func pageBuffersAreDisjointAndAligned() throws {
        let buffers = try PageBuffers(count: 3, pageSize: 4096)
        buffers.checkInvariants()
        for i in 0..<3 { #expect(Int(bitPattern: buffers.page(i).baseAddress) % 4096 == 0) }
        #expect(buffers.page(1).baseAddress! - buffers.page(0).baseAddress! == 4096)
    }
}

/// Indices recorded from several threads.
final class SeenBox: Sendable {
    private let seen = Mutex<[Int]>([])
    func add(_ i: Int) { seen.withLock { $0.append(i) } }
    var values: [Int] { seen.withLock { $0 } }
}
