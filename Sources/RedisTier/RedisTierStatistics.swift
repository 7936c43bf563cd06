import PageStore
import Synchronization

/// The tier's live counters: atomics every thread adds to, read into ``RedisTierStatistics``.
final class RedisTierCounters: Sendable {
    let storedObjects = Atomic<Int>(0)
    let storedBytes = Atomic<Int>(0)
    let acknowledgedWrites = Atomic<Int>(0)
    let refusedWrites = Atomic<Int>(0)
    let replicaShortfalls = Atomic<Int>(0)
    let clusterFullRefusals = Atomic<Int>(0)
    let reads = Atomic<Int>(0)
    let replicaReads = Atomic<Int>(0)
    let readRetries = Atomic<Int>(0)
    let failedReads = Atomic<Int>(0)
    let frees = Atomic<Int>(0)
    let abandonedFrees = Atomic<Int>(0)
    let unlinksOfMissingKeys = Atomic<Int>(0)
    let movedRedirects = Atomic<Int>(0)
    let askRedirects = Atomic<Int>(0)
    let topologyRefreshes = Atomic<Int>(0)
    let failedTopologyRefreshes = Atomic<Int>(0)
    let connectionsOpened = Atomic<Int>(0)
    let leaseRefreshes = Atomic<Int>(0)
    let failedLeaseRefreshes = Atomic<Int>(0)
    let leaseLapses = Atomic<Int>(0)
    let bytesWritten = Atomic<Int>(0)
    let bytesRead = Atomic<Int>(0)
}

/// What a ``RedisTier`` did: the tier counters every `PageTier` has, and the cluster's own
/// (redirects, retries, refreshes, connections, the lease).
public struct RedisTierStatistics: Sendable, Equatable {
    /// The counters every tier has.
    public var tier = PageTierStatistics()
    /// Pages refused because WAIT reported fewer replicas than asked for.
    public var replicaShortfalls = 0
    /// Pages refused because a master was out of memory (noeviction's OOM error).
    public var clusterFullRefusals = 0
    /// Reads served by a replica (its master did not answer).
    public var replicaReads = 0
    /// Read attempts after the first (a node down, a redirect, a cluster in failover).
    public var readRetries = 0
    /// Frees dropped because the queue of frees waiting for the cluster was full; their keys
    /// stay until close sweeps the namespace, or gc removes it.
    public var abandonedFrees = 0
    /// UNLINKs that found no key (a write that was never acknowledged and never landed).
    public var unlinksOfMissingKeys = 0
    /// MOVED redirects followed.
    public var movedRedirects = 0
    /// ASK redirects followed.
    public var askRedirects = 0
    /// Topology refreshes (CLUSTER SLOTS) that succeeded.
    public var topologyRefreshes = 0
    /// Topology refreshes that found no node to answer.
    public var failedTopologyRefreshes = 0
    /// Connections opened (the first ones and every reconnection).
    public var connectionsOpened = 0
    /// Lease refreshes that succeeded.
    public var leaseRefreshes = 0
    /// Lease refreshes that failed (the cluster did not answer).
    public var failedLeaseRefreshes = 0
    /// Times the lease went unrefreshed for longer than its TTL: it may have expired, and gc may
    /// have removed the run's keys (a read then fails as missing, never as a wrong page).
    public var leaseLapses = 0
    /// Payload bytes acknowledged.
    public var bytesWritten = 0
    /// Payload bytes read.
    public var bytesRead = 0

    /// All zero.
    public init() {}

    /// `name value` lines, one per counter, for people and scripts.
    public var lines: String {
        let fields: [(String, Int)] = [
            ("stored_objects", tier.storedObjects), ("stored_bytes", tier.storedBytes),
            ("acknowledged_writes", tier.acknowledgedWrites), ("refused_writes", tier.refusedWrites),
            ("replica_shortfalls", replicaShortfalls), ("cluster_full_refusals", clusterFullRefusals),
            ("reads", tier.reads), ("replica_reads", replicaReads), ("read_retries", readRetries),
            ("failed_reads", tier.failedReads), ("frees", tier.frees), ("pending_frees", tier.pendingFrees),
            ("abandoned_frees", abandonedFrees), ("unlinks_of_missing_keys", unlinksOfMissingKeys),
            ("moved_redirects", movedRedirects), ("ask_redirects", askRedirects),
            ("topology_refreshes", topologyRefreshes), ("failed_topology_refreshes", failedTopologyRefreshes),
            ("connections_opened", connectionsOpened), ("lease_refreshes", leaseRefreshes),
            ("failed_lease_refreshes", failedLeaseRefreshes), ("lease_lapses", leaseLapses),
            ("bytes_written", bytesWritten), ("bytes_read", bytesRead),
        ]
        return fields.map { "\($0.0) \($0.1)\n" }.joined()
    }
}

extension RedisTierCounters {
    /// A snapshot; `pendingFrees` comes from the free queue.
    func snapshot(pendingFrees: Int) -> RedisTierStatistics {
        var s = RedisTierStatistics()
        s.tier.storedObjects = storedObjects.load(ordering: .relaxed)
        s.tier.storedBytes = storedBytes.load(ordering: .relaxed)
        s.tier.acknowledgedWrites = acknowledgedWrites.load(ordering: .relaxed)
        s.tier.refusedWrites = refusedWrites.load(ordering: .relaxed)
        s.tier.reads = reads.load(ordering: .relaxed)
        s.tier.failedReads = failedReads.load(ordering: .relaxed)
        s.tier.frees = frees.load(ordering: .relaxed)
        s.tier.pendingFrees = pendingFrees
        s.replicaShortfalls = replicaShortfalls.load(ordering: .relaxed)
        s.clusterFullRefusals = clusterFullRefusals.load(ordering: .relaxed)
        s.replicaReads = replicaReads.load(ordering: .relaxed)
        s.readRetries = readRetries.load(ordering: .relaxed)
        s.abandonedFrees = abandonedFrees.load(ordering: .relaxed)
        s.unlinksOfMissingKeys = unlinksOfMissingKeys.load(ordering: .relaxed)
        s.movedRedirects = movedRedirects.load(ordering: .relaxed)
        s.askRedirects = askRedirects.load(ordering: .relaxed)
        s.topologyRefreshes = topologyRefreshes.load(ordering: .relaxed)
        s.failedTopologyRefreshes = failedTopologyRefreshes.load(ordering: .relaxed)
        s.connectionsOpened = connectionsOpened.load(ordering: .relaxed)
        s.leaseRefreshes = leaseRefreshes.load(ordering: .relaxed)
        s.failedLeaseRefreshes = failedLeaseRefreshes.load(ordering: .relaxed)
        s.leaseLapses = leaseLapses.load(ordering: .relaxed)
        s.bytesWritten = bytesWritten.load(ordering: .relaxed)
        s.bytesRead = bytesRead.load(ordering: .relaxed)
        return s
    }
}
