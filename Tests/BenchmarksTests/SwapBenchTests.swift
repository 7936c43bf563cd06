#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Swap
import TestSupport
import Testing
import KernelSwap
@testable import Benchmarks
import Workloads
import ZSwap

/// Writes a small synthetic corpus (`pages` pages of heap-like words and some zero pages) to a
/// temporary file; the caller removes it.
func writeCorpus(pages: Int, noisy: Bool = false) throws -> String {
    var template = Array("/tmp/uswap-benchswap-XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    try #require(fd >= 0)
    defer { close(fd) }
    var page = [UInt64](repeating: 0, count: 512)
    for p in 0..<pages {
        for i in 0..<512 { page[i] = p % 5 == 4 ? 0 : UInt64(0x7F00_0000_0000) &+ UInt64(p * 512 + i % 37) }
        if noisy {
            // Half of every page pseudo-random: pages compress about 2:1, so a small pool fills.
            var x = UInt64(p + 1) &* 0x9E37_79B9_7F4A_7C15
            for i in stride(from: 0, to: 512, by: 2) {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17
                page[i] = x
            }
        }
        _ = page.withUnsafeBytes { write(fd, $0.baseAddress, 4096) }
    }
    return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

@Suite(.serialized) struct SwapBenchTests {
    @Test(arguments: [nil, "lazy"] as [String?])
    func smallRunThroughTheLibraryCallPathVerifies(policy: String?) throws {
        if case .failure(let error) = SwapRegion.probe() {
            CIGate.unavailable("userfaultfd: \(error)")
            return
        }
        let corpus = try writeCorpus(pages: 40)
        defer { unlink(corpus) }
        let bench = SwapBench(
            corpusPath: corpus, sizeMiB: 8, residentMiB: 2, touches: 20000, writePercent: 30, zipf: 0.99,
            policy: policy, threads: 1, memLimitMiB: nil)
        let result = try bench.run(vsKernel: false, progress: false)
        guard case .measured(let ours) = result.ours else {
            Issue.record("our side was not measured: \(result.ours)")
            return
        }
        #expect(ours.verified && ours.mismatches == 0)
        #expect(ours.swapIns > 0)
        #expect(ours.swapOuts > 0)
        #expect(ours.residentMaxBytes <= 2 << 20)
        #expect(ours.backendMemUsedTotal > 0)
        #expect(ours.policy == (policy ?? SlotPolicy.default.rawValue))
        #expect(result.clean)
        // The JSON carries every field the scoreboard reads.
        let json = try jsonObject(result)
        let memory = try #require(json["memory"] as? [String: Int])
        let kernel = try #require(json["kernel"] as? [String: Any])
        for key in ["us_per_touch", "cpu_us_per_touch", "swap_ins", "us_per_swap_in", "p50_us", "p99_us", "p999_us", "policy", "verified", "mismatches"] {
            #expect(json[key] != nil, "missing \(key)")
        }
        #expect(json["verified"] as? Bool == true)
        #expect(json["swap_ins"] as? Int == ours.swapIns)
        #expect(memory["resident_max_bytes"] == ours.residentMaxBytes)
        #expect(memory["backend_mem_used_total"] == ours.backendMemUsedTotal)
        #expect(kernel["unavailable"] != nil)
        #expect(result.humanReport.contains("verified"))
    }

    @Test func oneThreadAndSeveralThreadsCountTheSameTouches() throws {
        if case .failure(let error) = SwapRegion.probe() {
            CIGate.unavailable("userfaultfd: \(error)")
            return
        }
        let corpus = try writeCorpus(pages: 16)
        defer { unlink(corpus) }
        let bench = SwapBench(
            corpusPath: corpus, sizeMiB: 4, residentMiB: 1, touches: 9000, writePercent: 50, zipf: 0,
            policy: nil, threads: 3, memLimitMiB: nil)
        let result = try bench.run(vsKernel: false, progress: false)
        guard case .measured(let ours) = result.ours else {
            Issue.record("our side was not measured: \(result.ours)")
            return
        }
        #expect(ours.verified)
    }

    @Test func aMissingCorpusIsAClearError() throws {
        if case .failure = SwapRegion.probe() { return }
        let bench = SwapBench(
            corpusPath: "/nonexistent/corpus.bin", sizeMiB: 4, residentMiB: 1, touches: 10, writePercent: 0, zipf: 0,
            policy: nil, threads: 1, memLimitMiB: nil)
        #expect(throws: CorpusError.self) { _ = try bench.run(vsKernel: false, progress: false) }
    }
}

/// The second tier in the bench: `--backend zswap:FILE`, `--writeback FILE`, pool limits.
@Suite(.serialized) struct SwapBenchSecondTierTests {
    /// A path for a backing file that does not exist yet.
    func freshPath(_ name: String) -> String { "/var/tmp/uswap-benchswap-\(getpid())-\(name)" }

    func run(_ bench: SwapBench) throws -> (SwapBenchResult, UserSpaceFigures)? {
        if case .failure(let error) = SwapRegion.probe() {
            CIGate.unavailable("userfaultfd: \(error)")
            return nil
        }
        let result = try bench.run(vsKernel: false, progress: false)
        guard case .measured(let ours) = result.ours else {
            Issue.record("our side was not measured: \(result.ours)")
            return nil
        }
        return (result, ours)
    }

    func smallBench(corpus: String, backend: BenchBackendKind, poolLimit: PoolLimit?, writeback: String? = nil) -> SwapBench {
        var bench = SwapBench(
            corpusPath: corpus, sizeMiB: 12, residentMiB: 3, touches: 10000, writePercent: 30, zipf: 0,
            policy: nil, threads: 1, memLimitMiB: nil)
        bench.backend = backend
        bench.poolLimit = poolLimit
        bench.writebackFile = writeback
        return bench
    }

    @Test func aSmallZswapPoolSendsPagesToTheFileAndReadsThemBack() throws {
        let corpus = try writeCorpus(pages: 64, noisy: true)
        defer { unlink(corpus) }
        let file = freshPath("zswap")
        guard let (result, ours) = try run(smallBench(corpus: corpus, backend: .zswap(file: file), poolLimit: .bytes(1 << 20))) else { return }
        #expect(ours.verified && ours.mismatches == 0)
        #expect(ours.writtenBack + ours.fileStores > 0, "pages went to the file")
        #expect(ours.fileReads > 0, "pages came back from the file")
        #expect(ours.secondTierExpected && ours.secondTierProblem == nil)
        #expect(ours.backendMemUsedTotal <= 1 << 20)
        #expect(result.clean)
        #expect(access(file, F_OK) != 0, "the bench removes its backing file")
        let json = try jsonObject(result)
        #expect(json["backend"] as? String == "zswap:\(file)")
        #expect(json["written_back"] as? Int == ours.writtenBack)
        #expect(json["file_reads"] as? Int == ours.fileReads)
        #expect(json["pool_limit_bytes"] as? Int == 1 << 20)
        #expect(result.humanReport.contains("pages read from the file"))
    }

    @Test func aZswapPoolThatNeverFillsLeavesItsFileAloneAndStillPasses() throws {
        let corpus = try writeCorpus(pages: 64)
        defer { unlink(corpus) }
        let file = freshPath("roomy")
        guard let (result, ours) = try run(smallBench(corpus: corpus, backend: .zswap(file: file), poolLimit: .bytes(64 << 20))) else { return }
        #expect(ours.verified)
        #expect(ours.writtenBack == 0 && ours.fileReads == 0 && ours.fileStores == 0)
        #expect(!ours.secondTierExpected)
        #expect(result.clean)
        #expect(access(file, F_OK) != 0)
    }

    @Test func zramWithAWritebackFileWritesIdlePagesBackAndReadsThemBack() throws {
        let corpus = try writeCorpus(pages: 64, noisy: true)
        defer { unlink(corpus) }
        let file = freshPath("wb")
        guard let (result, ours) = try run(smallBench(corpus: corpus, backend: .zram, poolLimit: .bytes(1 << 20), writeback: file)) else { return }
        #expect(ours.verified && ours.mismatches == 0)
        #expect(ours.writtenBack > 0, "automatic writeback ran")
        #expect(ours.fileReads > 0, "written-back pages were read back")
        #expect(result.clean)
        #expect(access(file, F_OK) != 0, "the bench removes its writeback file")
        #expect(ours.detail?.hasPrefix("bd_stat") == true)
    }

    @Test("--tier FILE --encrypt-tier: pages reach the file encrypted, come back verified, and the file is removed", arguments: ["zswap", "zram"])
    func anEncryptedFileTierVerifies(backend: String) throws {
        let corpus = try writeCorpus(pages: 64, noisy: true)
        defer { unlink(corpus) }
        let file = freshPath("enc-\(backend)")
        var bench = smallBench(corpus: corpus, backend: BenchBackendKind(argument: backend)!, poolLimit: .bytes(1 << 20))
        bench.tier = .file(path: file)
        bench.encryptTier = true
        guard let (result, ours) = try run(bench) else { return }
        #expect(ours.verified && ours.mismatches == 0)
        #expect(ours.writtenBack > 0 && ours.fileReads > 0, "pages went to the tier and came back")
        #expect(ours.backendLabel.contains("encrypted (AES-256-GCM)"))
        #expect(result.clean)
        #expect(access(file, F_OK) != 0, "the bench removes its tier file")
    }

    @Test func aSecondTierThatHadWorkAndDidNoneFailsTheRun() {
        var figures = UserSpaceFigures(
            usPerTouch: 1, cpuUsPerTouch: 1, swapIns: 10, p50: 1, p99: 1, p999: 1, policy: "free-on-swapin",
            verified: true, mismatches: 0, residentMaxBytes: 0, backendMemUsedTotal: 0, mmStatLine: "",
            peakRSSBytes: 0, swapOuts: 10, fillSeconds: 0, touchSeconds: 1)
        figures.secondTierExpected = true
        #expect(figures.secondTierProblem != nil)
        let bench = SwapBench(
            corpusPath: "c", sizeMiB: 8, residentMiB: 2, touches: 10, writePercent: 0, zipf: 0, policy: nil, threads: 1,
            memLimitMiB: nil)
        #expect(!SwapBenchResult(bench: bench, ours: .measured(figures), kernel: .notRequested).clean)
        figures.writtenBack = 3
        #expect(figures.secondTierProblem?.contains("none was read back") == true)
        figures.fileReads = 2
        #expect(figures.secondTierProblem == nil)
        #expect(SwapBenchResult(bench: bench, ours: .measured(figures), kernel: .notRequested).clean)
    }

    @Test func theKernelsZswapFiguresSitBesideOursInTheJSONAndTheTable() throws {
        var figures = UserSpaceFigures(
            usPerTouch: 40, cpuUsPerTouch: 30, swapIns: 1000, p50: 20, p99: 90, p999: 200, policy: "free-on-swapin",
            verified: true, mismatches: 0, residentMaxBytes: 3 << 20, backendMemUsedTotal: 1 << 20, mmStatLine: "1 2 3",
            peakRSSBytes: 9 << 20, swapOuts: 1200, fillSeconds: 0.5, touchSeconds: 0.04)
        figures.poolLimitBytes = 1 << 20
        var zswap = KernelZswapReport(
            figures: KernelZswapFigures(poolBytes: 2 << 20, storedBytes: 8 << 20),
            touchCounters: KernelZswapCounters(stores: 50, loads: 40, writtenBack: 7, deviceReads: 9, deviceWrites: 11))
        zswap.counters = KernelZswapCounters(stores: 500, loads: 400, writtenBack: 70, deviceReads: 90, deviceWrites: 110)
        zswap.compressor = "lzo"
        zswap.maxPoolPercent = 1
        var kernel = KernelChildReport(
            usPerTouch: 50, cpuUsPerTouch: 35, majorFaults: 800, touchSeconds: 0.05, fillSeconds: 1, mmStat: nil, mmStatLine: "",
            verified: true, mismatches: 0, zswap: zswap)
        kernel.record(cgroupPeak: .success(5 << 19))
        let bench = smallBench(corpus: "c", backend: .zswap(file: "/var/tmp/f"), poolLimit: .percentOfRAM(1))
        let result = SwapBenchResult(bench: bench, ours: .measured(figures), kernel: .measured(kernel))
        #expect(result.clean)
        let json = try jsonObject(result)
        let k = try #require(json["kernel"] as? [String: Any])
        #expect(k["zswap_pool_bytes"] as? Int == 2 << 20 && k["compressed_bytes"] as? Int == 2 << 20)
        // Measured: the cgroup's peak over the touches (not its limit) plus the pool.
        #expect(k["memory_bytes"] as? Int == (5 << 19) + (2 << 20))
        #expect(k["cgroup_peak_bytes"] as? Int == 5 << 19 && k["cgroup_limit_bytes"] as? Int == bench.residentMiB << 20)
        #expect(k["zram_mem_used_total"] is NSNull, "zswap has no zram figures: null, not 0")
        #expect(k["zswap_stores"] as? Int == 500 && k["zswap_touch_stores"] as? Int == 50)
        #expect(k["written_back"] as? Int == 7 && k["file_reads"] as? Int == 9, "the touch phase's, as ours")
        #expect(k["us_per_major_fault"] as? Double == 62.5)
        #expect(json["us_per_swap_in"] as? Double == 40)
        let table = result.humanReport
        #expect(table.contains("kernel zswap") && table.contains("zswap: compressor lzo"))
        #expect(table.contains("pages read from the file"))
    }

    @Test func kernelFiguresThatCouldNotBeReadAreNullAndSayWhy() throws {
        let figures = UserSpaceFigures(
            usPerTouch: 40, cpuUsPerTouch: 30, swapIns: 1000, p50: 20, p99: 90, p999: 200, policy: "free-on-swapin",
            verified: true, mismatches: 0, residentMaxBytes: 3 << 20, backendMemUsedTotal: 1 << 20, mmStatLine: "1 2 3",
            peakRSSBytes: 9 << 20, swapOuts: 1200, fillSeconds: 0.5, touchSeconds: 0.04)
        var kernel = KernelChildReport(
            usPerTouch: 50, cpuUsPerTouch: 35, majorFaults: 800, touchSeconds: 0.05, fillSeconds: 1, mmStat: nil, mmStatLine: "",
            verified: true, mismatches: 0)
        kernel.record(zramMMStat: .failure(.sysfs(path: "/sys/block/zram0/mm_stat", operation: "read", errno: .ioError)))
        kernel.record(cgroupPeak: .failure(.failed("read memory.max_usage_in_bytes: EACCES")))
        let bench = smallBench(corpus: "c", backend: .zram, poolLimit: nil)
        let result = SwapBenchResult(bench: bench, ours: .measured(figures), kernel: .measured(kernel))
        let k = try #require(try jsonObject(result)["kernel"] as? [String: Any])
        for key in ["zram_mem_used_total", "compressed_bytes", "cgroup_peak_bytes", "memory_bytes"] {
            #expect(k[key] is NSNull, "\(key) is null, never a number")
        }
        let why = try #require(k["figures_unavailable"] as? [String: String])
        #expect(why["zram_mm_stat"]?.contains("mm_stat") == true && why["cgroup_peak_bytes"]?.contains("EACCES") == true)
        let table = result.humanReport
        #expect(table.contains("unavailable") && table.contains("kernel cgroup_peak_bytes unavailable: "))
        #expect(!table.contains("0.0 MiB"), "no zero stands in for a figure that was not read")
    }

    @Test func aKernelSideNotMeasuredSaysWhyInTheJSON() throws {
        let bench = smallBench(corpus: "c", backend: .zram, poolLimit: nil)
        let json = try jsonObject(SwapBenchResult(bench: bench, ours: .unavailable("userfaultfd: EPERM"), kernel: .notRequested))
        #expect(json["unavailable"] as? String == "userfaultfd: EPERM" && json["verified"] as? Bool == false)
        #expect((json["kernel"] as? [String: String])?["unavailable"] == "not requested (--vs-kernel)")
    }

    @Test func aSwapBenchOnZswapWithoutATierSaysWhatToGive() throws {
        let bench = SwapBench(
            corpusPath: "/nonexistent", sizeMiB: 4, residentMiB: 1, touches: 1, writePercent: 0, zipf: 0, policy: nil,
            threads: 1, memLimitMiB: nil, backend: .zswap(file: nil))
        #expect(throws: SwapBenchError.zswapNeedsTier) { _ = try bench.makeBackend(sizeBytes: 4 << 20) }
        #expect(SwapBenchError.zswapNeedsTier.description.contains("--tier FILE"))
    }

    @Test func backendArgumentsParse() {
        #expect(BenchBackendKind(argument: "zram") == .zram)
        #expect(BenchBackendKind(argument: "zswap:/var/tmp/s") == .zswap(file: "/var/tmp/s"))
        #expect(BenchBackendKind(argument: "zswap:") == nil)
        #expect(BenchBackendKind(argument: "zswap") == .zswap(file: nil))  // its tier comes from --tier
        #expect(PoolLimit.percentOfRAM(1).bytes(memTotal: 200 << 20) == 2 << 20)
        #expect(PoolLimit.bytes(3 << 20).bytes(memTotal: 1) == 3 << 20)
    }
}
