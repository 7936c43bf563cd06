/// What went wrong between the tier and the cluster, with what to do about it.
public enum RedisTierError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A setting that cannot work.
    case invalidConfiguration(String)
    /// No node answered at the start: the addresses tried and why each failed.
    case unreachable(String)
    /// A node that runs without cluster support.
    case notACluster(node: String)
    /// A node whose maxmemory-policy may evict keys: an evicted key would be a lost page.
    case evictionPolicy(node: String, policy: String)
    /// The hash slots the cluster does not serve (cluster_state is not ok).
    case incompleteCoverage(unservedSlots: Int)
    /// A node could not be connected to.
    case connectionFailed(node: String, reason: String)
    /// A node did not answer within the time allowed.
    case timedOut(node: String, operation: String, milliseconds: Int)
    /// A node closed the connection or sent something that is not RESP.
    case protocolViolation(node: String, detail: String)
    /// A node answered a command with an error the tier did not expect.
    case serverError(node: String, message: String)
    /// Closing could not remove every key of the run; gc removes them once the lease expires.
    case keysLeftBehind(count: Int, reason: String)
    /// The tier was closed.
    case closed

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .invalidConfiguration(let message): message
        case .unreachable(let detail):
            "no node of the cluster answered (\(detail)): start it (scripts/redis-cluster.sh start 3) or check the addresses in redis://HOST:PORT,..."
        case .notACluster(let node):
            "\(node) runs without cluster support: the tier needs a Redis Cluster (cluster-enabled yes)"
        case .evictionPolicy(let node, let policy):
            "\(node) has maxmemory-policy \(policy): an evicted key would be a lost page; set it to noeviction (CONFIG SET maxmemory-policy noeviction on every node) or use another cluster"
        case .incompleteCoverage(let slots):
            "the cluster serves no node for \(slots) of its 16384 hash slots (cluster_state:fail): wait for it to recover or fix it (redis-cli --cluster fix)"
        case .connectionFailed(let node, let reason): "cannot connect to \(node): \(reason)"
        case .timedOut(let node, let operation, let ms):
            "\(node) did not answer \(operation) within \(ms) ms (stopped, overloaded or partitioned)"
        case .protocolViolation(let node, let detail):
            "\(node) broke the protocol (\(detail)): the connection was dropped; is it a Redis server?"
        case .serverError(let node, let message): "\(node) answered with an error: \(message)"
        case .keysLeftBehind(let count, let reason):
            "\(count < 0 ? "some" : String(count)) keys of the run could not be removed (\(reason)); they go when its lease expires and `uswap cluster gc` runs"
        case .closed: "the tier was closed: make a new one"
        }
    }
}
