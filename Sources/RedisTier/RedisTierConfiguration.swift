/// How a ``RedisTier`` uses its cluster: where it is, how many replicas must hold a page before
/// the pool may drop it, how long to wait, how keys are named.
///
/// ```swift
/// var configuration = try RedisTierConfiguration(url: "redis://127.0.0.1:7100,127.0.0.1:7101")
/// configuration.replicas = 1          // WAIT 1: the master and one replica hold every page
/// configuration.label = "heap"        // keys are uswap:heap-<pid>-<random>:<handle>
/// ```
public struct RedisTierConfiguration: Sendable, Equatable {
    /// Nodes to ask for the cluster's layout (any node will do; more than one survives one down).
    public var seeds: [NodeAddress]
    /// Replicas that must have a page (WAIT) before a write is acknowledged: fewer, and the pages
    /// stay with the caller. 0 acknowledges on the master alone (a lost master loses pages).
    public var replicas = 1
    /// How long WAIT may block for the replicas, in milliseconds.
    public var waitTimeoutMilliseconds = 500
    /// How long one exchange with a node may take (a page read, a pipeline, a control command)
    /// before the node counts as unresponsive, in milliseconds.
    public var ioTimeoutMilliseconds = 1000
    /// How long connecting to a node may take, in milliseconds.
    public var connectTimeoutMilliseconds = 1000
    /// How long a read keeps retrying (node down, failover, redirects) before it fails, in
    /// milliseconds; `nil` takes twice the cluster's cluster-node-timeout plus 2 s, which covers
    /// a failover (detection after the node timeout, then the election).
    public var readRetryMilliseconds: Int?
    /// The largest object (the page size: an incompressible page is stored raw).
    public var maxObjectSize = 4096
    /// The first part of every key.
    public var keyPrefix = "uswap"
    /// A word naming the region in its keys (the rest of the run's name is unique).
    public var label = "region"
    /// The lease's time to live, in milliseconds: the run refreshes it every third of that; gc
    /// removes a run's keys once its lease is gone.
    public var leaseTTLMilliseconds = 30_000
    /// Frees collected before the maintenance thread sends them as one pipelined UNLINK batch
    /// (it also sends whatever is queued every ``maintenanceIntervalMilliseconds``).
    public var freeBatchSize = 256
    /// Frees that may wait for the cluster (8 bytes each, allocated up front); past three
    /// quarters full the freeing thread sends them itself.
    public var freeQueueCapacity = 65_536
    /// Commands in one pipeline: a write of more objects goes out in pipelines of this many.
    public var pipelineDepth = 1024
    /// Idle connections kept per node.
    public var maxIdleConnectionsPerNode = 8
    /// How often the maintenance thread looks for work (queued frees, a stale topology, the
    /// lease), in milliseconds.
    public var maintenanceIntervalMilliseconds = 20

    /// The settings for a cluster reachable through `seeds`, with the defaults above.
    public init(seeds: [NodeAddress]) {
        self.seeds = seeds
    }

    /// The settings for `redis://HOST:PORT[,HOST:PORT...]`.
    ///
    /// - Throws: ``RedisTierError/invalidConfiguration(_:)`` for a malformed address list.
    public init(url: String) throws(RedisTierError) {
        self.init(seeds: try NodeAddress.seeds(from: url))
    }

    /// Why these settings cannot work, or `nil`.
    public var problem: String? {
        if seeds.isEmpty { return "no seed address: give at least one node as redis://HOST:PORT" }
        if replicas < 0 { return "replicas \(replicas) must be 0 or more" }
        if waitTimeoutMilliseconds < 1 { return "the WAIT timeout \(waitTimeoutMilliseconds) ms must be at least 1 ms (0 would wait forever)" }
        if ioTimeoutMilliseconds < 1 { return "the I/O timeout \(ioTimeoutMilliseconds) ms must be at least 1 ms" }
        if connectTimeoutMilliseconds < 1 { return "the connect timeout \(connectTimeoutMilliseconds) ms must be at least 1 ms" }
        if let retry = readRetryMilliseconds, retry < 0 { return "the read retry window \(retry) ms must not be negative" }
        if maxObjectSize < 1 || maxObjectSize > 1 << 20 { return "the largest object \(maxObjectSize) must be from 1 byte to 1 MiB" }
        if leaseTTLMilliseconds < 300 { return "the lease TTL \(leaseTTLMilliseconds) ms must be at least 300 ms (it is refreshed every third)" }
        if freeBatchSize < 1 { return "the free batch size \(freeBatchSize) must be at least 1" }
        if freeQueueCapacity < freeBatchSize { return "the free queue (\(freeQueueCapacity)) must hold at least one batch (\(freeBatchSize))" }
        if pipelineDepth < 1 { return "the pipeline depth \(pipelineDepth) must be at least 1" }
        if maxIdleConnectionsPerNode < 1 { return "keep at least one idle connection per node" }
        if maintenanceIntervalMilliseconds < 1 { return "the maintenance interval must be at least 1 ms" }
        return nil
    }
}
