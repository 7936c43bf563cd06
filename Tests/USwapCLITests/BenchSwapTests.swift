#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Swap
import Testing
@testable import USwapCLI

private var runningInCI: Bool { getenv("CI").map { String(cString: $0) == "true" } ?? false }

/// Writes a small synthetic corpus (`pages` pages of heap-like words and some zero pages) to a
/// temporary file; the caller removes it.
private func writeCorpus(pages: Int) throws -> String {
    var template = Array("/tmp/uswap-benchswap-XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    try #require(fd >= 0)
    defer { close(fd) }
    var page = [UInt64](repeating: 0, count: 512)
    for p in 0..<pages {
        for i in 0..<512 { page[i] = p % 5 == 4 ? 0 : UInt64(0x7F00_0000_0000) &+ UInt64(p * 512 + i % 37) }
        _ = page.withUnsafeBytes { write(fd, $0.baseAddress, 4096) }
    }
    return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

@Suite(.serialized) struct BenchSwapTests {
    @Test(arguments: [nil, "lazy"] as [String?])
    func smallRunThroughTheLibraryCallPathVerifies(policy: String?) throws {
        if case .failure(let error) = SwapRegion.probe() {
            if runningInCI { Issue.record("userfaultfd unavailable under CI: \(error)") }
            print("skipped: userfaultfd unavailable: \(error)")
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
        guard case .object(let json) = result.json, case .object(let memory)? = json["memory"],
            case .object(let kernel)? = json["kernel"]
        else {
            Issue.record("JSON is not an object with memory and kernel objects")
            return
        }
        for key in ["us_per_touch", "cpu_us_per_touch", "swap_ins", "us_per_swap_in", "p50_us", "p99_us", "p999_us", "policy", "verified", "mismatches"] {
            #expect(json[key] != nil, "missing \(key)")
        }
        #expect(json["verified"] == .bool(true))
        #expect(json["swap_ins"] == .int(ours.swapIns))
        #expect(memory["resident_max_bytes"] == .int(ours.residentMaxBytes))
        #expect(memory["backend_mem_used_total"] == .int(ours.backendMemUsedTotal))
        #expect(kernel["unavailable"] != nil)
        #expect(result.humanReport.contains("verified"))
    }

    @Test func oneThreadAndSeveralThreadsCountTheSameTouches() throws {
        if case .failure(let error) = SwapRegion.probe() {
            if runningInCI { Issue.record("userfaultfd unavailable under CI: \(error)") }
            print("skipped: userfaultfd unavailable: \(error)")
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

    @Test func childArgumentsParseBackToTheSameBench() throws {
        let bench = SwapBench(
            corpusPath: "/tmp/c.bin", sizeMiB: 1024, residentMiB: 256, touches: 300_000, writePercent: 30, zipf: 0.99,
            policy: "lazy", threads: 2, memLimitMiB: nil)
        let arguments = bench.childArguments(cgroupPath: "/sys/fs/cgroup/memory/uswap-bench-1")
        #expect(Array(arguments.prefix(2)) == ["bench", "swap"])
        let command = try BenchSwap.parse(Array(arguments.dropFirst(2)))
        #expect(command.corpus == "/tmp/c.bin" && command.size == 1024 && command.resident == 256)
        #expect(command.touches == 300_000 && command.writePercent == 30 && command.zipf == 0.99)
        #expect(command.policy == "lazy" && command.threads == 2)
        #expect(command.kernelChildCgroup == "/sys/fs/cgroup/memory/uswap-bench-1")
    }

    @Test(arguments: [
        ["--corpus", "c", "--size", "0", "--resident", "1", "--touches", "1"],
        ["--corpus", "c", "--size", "8", "--resident", "9", "--touches", "1"],
        ["--corpus", "c", "--size", "8", "--resident", "1", "--touches", "1", "--write-pct", "101"],
        ["--corpus", "c", "--size", "8", "--resident", "1", "--touches", "1", "--policy", "eager"],
        ["--corpus", "c", "--size", "8", "--resident", "1", "--touches", "0"],
    ])
    func badOptionsAreRejectedBeforeAnythingRuns(arguments: [String]) {
        #expect(throws: (any Error).self) { _ = try BenchSwap.parse(arguments) }
    }

    @Test func aMissingCorpusIsAClearError() throws {
        if case .failure = SwapRegion.probe() { return }
        let bench = SwapBench(
            corpusPath: "/nonexistent/corpus.bin", sizeMiB: 4, residentMiB: 1, touches: 10, writePercent: 0, zipf: 0,
            policy: nil, threads: 1, memLimitMiB: nil)
        #expect(throws: CorpusError.self) { _ = try bench.run(vsKernel: false, progress: false) }
    }
}
