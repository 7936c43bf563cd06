import ArgumentParser
import Testing

@testable import USwapCLI

@Suite("TierSpec and TierOptions: one way to name a second tier, --tier FILE or --tier redis://...")
struct TierSpecTests {
    @Test("A path is a file tier; redis:// is a cluster with its seed nodes")
    func parsesFilesAndClusters() throws {
        #expect(try TierSpec(parsing: "/var/tmp/x.swap") == .file(path: "/var/tmp/x.swap"))
        guard case .cluster(let url, let seeds) = try TierSpec(parsing: "redis://127.0.0.1:7100,10.0.0.2:7101") else {
            Issue.record("not a cluster")
            return
        }
        #expect(url == "redis://127.0.0.1:7100,10.0.0.2:7101")
        #expect(seeds.map(\.port) == [7100, 7101] && seeds.map(\.host) == ["127.0.0.1", "10.0.0.2"])
    }

    @Test("Bad tiers are refused with a reason", arguments: ["", "http://host:1", "redis://", "redis://host", "redis://host:notaport"])
    func refusesBadTiers(argument: String) {
        #expect(throws: TierSpecError.self) { try TierSpec(parsing: argument) }
    }

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
