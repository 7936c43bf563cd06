import Foundation
import Testing
import TestSupport

@testable import RedisTier

extension RealClusterTests {
    @Suite("RedisTier.collectGarbage: the keys of dead runs")
    struct GarbageCollectionTests {
        @Test("A run killed mid-run keeps its keys while its lease lives; once it expires gc removes them, and never a live run's")
        func removesDeadRunsOnly() async throws {
            try await withCluster { cluster in
                let live = try RedisTier(cluster.configuration())
                let liveHandles = try TestPages.write(live, 0..<200)
                // A process that writes 300 pages and is SIGKILLed: no close, no sweep, its lease left to expire.
                let crash = try await HelperProcess.run(
                    "RedisTierBench", ["crash", "--seeds", cluster.url, "--pages", "300", "--lease-ttl", "600000", "--label", "crashed"])
                #expect(crash.signal == SIGKILL, "the crash run ended otherwise: \(crash.output)")
                let fields = try #require(crash.fields(of: "namespace="), "no namespace line in: \(crash.output)")
                #expect(fields["pages"] == "300")
                let leaseKey = try #require(fields["namespace"])
                let run = String(leaseKey.dropFirst("uswap:".count))
                let namespace = try TierNamespace(prefix: "uswap", run: run)
                var dead = 0
                for master in try await cluster.masters() {
                    dead += try await cluster.keys(on: master.port, matching: namespace.keyPattern).count
                }
                #expect(dead == 300)

                // Its lease (10 minutes) has not expired: gc keeps it.
                let early = try RedisTier.collectGarbage(cluster.configuration())
                let port = cluster.nodes[0].port
                #expect(early.deadRuns.isEmpty)
                #expect(Set(early.liveRuns) == [run, live.namespace.run])
                #expect(early.keysRemoved == 0)

                // Its lease runs out (shortened to 1 ms, as if the 10 minutes had passed).
                #expect(try await cluster.cli(port, ["PEXPIRE", leaseKey, "1"], cluster: true) == "1")
                let deadline = Date().addingTimeInterval(20)
                while try await cluster.cli(port, ["EXISTS", leaseKey], cluster: true) != "0" && Date() < deadline {
                    try await Task.sleep(for: .milliseconds(200))
                }
                let report = try RedisTier.collectGarbage(cluster.configuration())
                #expect(report.deadRuns == [run])
                #expect(report.liveRuns == [live.namespace.run])
                #expect(report.keysRemoved == 300)
                #expect(report.problems.isEmpty)
                #expect(report.summary.contains("removed 300 keys of 1 dead runs"))
                for master in try await cluster.masters() {
                    #expect(try await cluster.keys(on: master.port, matching: namespace.keyPattern).isEmpty)
                }
                // The live run's pages are all there.
                #expect(TestPages.verify(live, liveHandles).isEmpty)
                live.free(Array(liveHandles.values))
                try live.close()
                #expect(try RedisTier.collectGarbage(cluster.configuration()) == GarbageCollection())
            }
        }

        @Test("gc refuses a key prefix that is not a plain word, before connecting")
        func refusesBadPrefix() throws {
            var configuration = try RedisTierConfiguration(url: "redis://127.0.0.1:1")
            configuration.keyPrefix = "uswap{x}"
            #expect {
                _ = try RedisTier.collectGarbage(configuration)
            } throws: { error in
                guard case .invalidConfiguration(let message) = error as? RedisTierError else { return false }
                return message.contains("uswap{x}")
            }
        }
    }
}
