#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Swap
import Testing
import Benchmarks
@testable import USwapCLI


@Suite struct BenchSwapTests {
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
        ["--corpus", "c", "--size", "8", "--resident", "1", "--touches", "1", "--backend", "zswap"],
        ["--corpus", "c", "--size", "8", "--resident", "1", "--touches", "1", "--backend", "disk:/tmp/x"],
        ["--corpus", "c", "--size", "8", "--resident", "1", "--touches", "1", "--pool-percent", "5"],
        ["--corpus", "c", "--size", "8", "--resident", "1", "--touches", "1", "--backend", "zswap:/tmp/x", "--pool-percent", "0"],
        ["--corpus", "c", "--size", "8", "--resident", "1", "--touches", "1", "--backend", "zswap:/tmp/x", "--pool-percent", "5", "--pool-limit", "5"],
        ["--corpus", "c", "--size", "8", "--resident", "1", "--touches", "1", "--backend", "zswap:/tmp/x", "--writeback", "/tmp/y"],
        ["--corpus", "c", "--size", "8", "--resident", "1", "--touches", "1", "--backend", "zswap:/tmp/x", "--mem-limit", "4"],
        ["--corpus", "c", "--size", "8", "--resident", "1", "--touches", "1", "--eviction", "unmap"],
        ["--corpus", "c", "--size", "8", "--resident", "1", "--touches", "1", "--victim-cache", "3"],
        ["--corpus", "c", "--size", "8", "--resident", "1", "--touches", "1", "--victim-cache", "256"],
        ["--corpus", "c", "--size", "8", "--resident", "1", "--touches", "1", "--victim-cache", "some"],
    ])
    func badOptionsAreRejectedBeforeAnythingRuns(arguments: [String]) {
        #expect(throws: (any Error).self) { _ = try BenchSwap.parse(arguments) }
    }

    @Test(arguments: SwapRegionConfiguration.EvictionMethod.allCases)
    func anEvictionMethodReachesTheBench(method: SwapRegionConfiguration.EvictionMethod) throws {
        let command = try BenchSwap.parse(["--corpus", "c", "--size", "8", "--resident", "1", "--touches", "1", "--eviction", method.rawValue])
        #expect(command.eviction == method.rawValue)
    }

    @Test(arguments: [(nil, nil), ("off", 0), ("auto", 16_384), ("128", 128)] as [(String?, Int?)])
    func theVictimCacheOptionReachesTheLibrary(option: String?, pages: Int?) throws {
        let command = try BenchSwap.parse(
            ["--corpus", "c", "--size", "1024", "--resident", "256", "--touches", "1"] + (option.map { ["--victim-cache", $0] } ?? []))
        #expect(command.victimCachePages == pages)
    }
}
