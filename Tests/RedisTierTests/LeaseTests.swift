import PageStore
import Foundation
import Testing
import TestSupport

@testable import RedisTier

extension RealClusterTests {
    @Suite("Lease: the key that says a run is alive")
    struct LeaseTests {
        @Test("The lease exists with a TTL while the run lives, is refreshed, and is deleted on close")
        func leaseLivesWithTheRun() async throws {
            try await withCluster { cluster in
                var configuration = cluster.configuration()
                configuration.leaseTTLMilliseconds = 3000
                let tier = try RedisTier(configuration)
                let port = cluster.nodes[0].port
                let ttl = Int(try await cluster.cli(port, ["PTTL", tier.namespace.leaseKey], cluster: true)) ?? -3
                #expect(ttl > 0 && ttl <= 3000)
                try await Task.sleep(for: .milliseconds(3500))
                #expect(try await cluster.cli(port, ["EXISTS", tier.namespace.leaseKey], cluster: true) == "1")
                #expect(tier.statistics.leaseRefreshes >= 3)
                #expect(tier.statistics.leaseLapses == 0)
                try tier.close()
                #expect(try await cluster.cli(port, ["EXISTS", tier.namespace.leaseKey], cluster: true) == "0")
                #expect(throws: PageTierError.closed) { try tier.read(PageTierHandle(rawValue: 1), into: UnsafeMutableRawBufferPointer(start: nil, count: 0)) }
            }
        }

        @Test("A lease refresh that cannot reach the cluster throws and is counted; a lapse is counted once")
        func refreshFailureCounted() throws {
            let counters = RedisTierCounters()
            let settings = ConnectionSettings(
                connectTimeoutNanoseconds: 100_000_000, ioTimeoutNanoseconds: 100_000_000, downNanoseconds: 100_000_000,
                bufferCapacity: 1 << 16, maxIdleConnections: 1)
            let client = ClusterClient(seeds: [NodeAddress(host: "127.0.0.1", port: 1)], settings: settings, counters: counters)
            let lease = Lease(key: "uswap:test-lease", ttlMilliseconds: 300)
            #expect(throws: RedisTierError.self) { try lease.refresh(client, counters: counters) }
            #expect(counters.failedLeaseRefreshes.load(ordering: .relaxed) == 1)
            lease.refreshIfDue(client, counters: counters)
            lease.refreshIfDue(client, counters: counters)
            #expect(counters.leaseLapses.load(ordering: .relaxed) == 1)
            #expect(counters.failedLeaseRefreshes.load(ordering: .relaxed) == 3)
        }
    }
}
