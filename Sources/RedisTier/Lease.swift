import Synchronization
import SystemSupport

/// A run's lease: the key `PREFIX:RUN` with a TTL, set when the tier is made and refreshed every
/// third of the TTL by the maintenance thread. While it exists the run is alive and gc leaves its
/// keys alone; once the run is gone (closed, killed, its machine lost) the key expires and gc may
/// remove the run's pages.
///
/// If the run itself cannot refresh it for longer than the TTL (the cluster unreachable, the
/// process stopped), the lease may lapse: counted in ``RedisTierStatistics/leaseLapses``; pages a
/// gc removed meanwhile read as missing, never as wrong data.
final class Lease: Sendable {
    /// The key.
    let key: String
    /// Its time to live.
    let ttlMilliseconds: Int
    /// When the lease was last written (monotonic nanoseconds), and whether a lapse was counted
    /// since.
    private let state = Mutex<(lastRefresh: Int, lapseCounted: Bool)>((0, false))

    /// The lease `key` with a TTL of `ttlMilliseconds`.
    init(key: String, ttlMilliseconds: Int) {
        self.key = key
        self.ttlMilliseconds = ttlMilliseconds
    }

    /// What the lease key holds: who took it, for people looking at the cluster.
    private var value: String { "uswap pid=\(getpid()) ttl_ms=\(ttlMilliseconds)" }

    /// Writes the lease with its full TTL (`SET key value PX ttl`).
    ///
    /// - Throws: what kept the cluster from taking it.
    func refresh(_ client: ClusterClient, counters: RedisTierCounters) throws(RedisTierError) {
        let reply: RESPValue
        do {
            reply = try client.routedCommand(["SET", key, value, "PX", String(ttlMilliseconds)], key: key)
        } catch {
            counters.failedLeaseRefreshes.add(1, ordering: .relaxed)
            throw error
        }
        if let message = reply.errorMessage {
            counters.failedLeaseRefreshes.add(1, ordering: .relaxed)
            throw .serverError(node: "the lease's master", message: message)
        }
        counters.leaseRefreshes.add(1, ordering: .relaxed)
        state.withLock { $0 = (MonotonicClock.nanoseconds(), false) }
    }

    /// Refreshes the lease once a third of its TTL has passed since the last refresh; counts a
    /// lapse when more than the whole TTL passed without one.
    func refreshIfDue(_ client: ClusterClient, counters: RedisTierCounters) {
        let now = MonotonicClock.nanoseconds()
        let (last, lapseCounted) = state.withLock { $0 }
        let age = now - last
        guard age >= ttlMilliseconds * 1_000_000 / 3 else { return }
        if age > ttlMilliseconds * 1_000_000 && !lapseCounted {
            counters.leaseLapses.add(1, ordering: .relaxed)
            state.withLock { $0.lapseCounted = true }
        }
        try? refresh(client, counters: counters)
    }

    /// Deletes the lease (the run closed and its keys are gone).
    func drop(_ client: ClusterClient) throws(RedisTierError) {
        let reply = try client.routedCommand(["DEL", key], key: key)
        if let message = reply.errorMessage { throw .serverError(node: "the lease's master", message: message) }
    }
}
