import RedisTier
import Testing
import TestSupport

/// Every test that runs real redis-server processes, one at a time: each starts its own cluster,
/// and two at once would share the two cores and turn time limits into flaky failures.
@Suite("Against real Redis Clusters", .serialized)
enum RealClusterTests {}

extension LocalCluster {
    /// Settings for tests: this cluster's nodes, time limits that a loaded 2-core machine (the
    /// whole suite running beside the cluster) still meets.
    func configuration(replicas: Int = 1) -> RedisTierConfiguration {
        var configuration = RedisTierConfiguration(seeds: nodes.map { NodeAddress(host: $0.host, port: $0.port) })
        configuration.replicas = replicas
        configuration.ioTimeoutMilliseconds = 1000
        configuration.connectTimeoutMilliseconds = 1000
        configuration.waitTimeoutMilliseconds = 500
        configuration.label = "test"
        return configuration
    }
}
