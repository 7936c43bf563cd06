import ArgumentParser
import Testing

import Benchmarks
@testable import USwapCLI

@Suite("TierOptions: --tier, --replicas, --lease-ttl and --encrypt-tier, checked before anything runs")
struct TierOptionsTests {
    @Test("--replicas needs a cluster, --encrypt-tier needs a tier, --lease-ttl has a floor")
    func optionRules() throws {
        #expect(throws: (any Error).self) { try TierOptions.parse(["--replicas", "2"]) }
        #expect(throws: (any Error).self) { try TierOptions.parse(["--tier", "/tmp/f", "--replicas", "2"]) }
        #expect(throws: (any Error).self) { try TierOptions.parse(["--encrypt-tier"]) }
        #expect(throws: (any Error).self) { try TierOptions.parse(["--tier", "redis://h:1", "--lease-ttl", "10"]) }
        let options = try TierOptions.parse(["--tier", "redis://h:1", "--replicas", "2", "--encrypt-tier"])
        #expect(options.replicas == 2 && options.encrypt)
        #expect(try options.spec == .cluster(url: "redis://h:1", seeds: [.init(host: "h", port: 1)]))
    }

    @Test("bench swap takes --tier with --backend zswap or zram, and refuses a tier given twice")
    func benchSwapCombinations() throws {
        let base = ["--corpus", "c", "--size", "8", "--resident", "2", "--touches", "10"]
        _ = try BenchSwap.parse(base + ["--backend", "zswap", "--tier", "redis://h:1"])
        _ = try BenchSwap.parse(base + ["--backend", "zram", "--tier", "/tmp/f", "--pool-percent", "1"])
        _ = try BenchSwap.parse(base + ["--backend", "zswap:/tmp/f"])
        #expect(throws: (any Error).self) { try BenchSwap.parse(base + ["--backend", "zswap"]) }
        #expect(throws: (any Error).self) { try BenchSwap.parse(base + ["--backend", "zswap:/tmp/f", "--tier", "/tmp/g"]) }
        #expect(throws: (any Error).self) { try BenchSwap.parse(base + ["--backend", "zram", "--writeback", "/tmp/f", "--tier", "/tmp/g"]) }
    }
}
