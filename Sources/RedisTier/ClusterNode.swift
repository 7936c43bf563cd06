import Synchronization
import SystemSupport

/// How the tier talks to nodes: time limits and buffer sizes, fixed when it is made.
struct ConnectionSettings: Sendable {
    /// Time allowed to connect (TCP handshake and the first commands).
    var connectTimeoutNanoseconds: Int
    /// Time allowed for one exchange (a page's GET, a pipeline, a control command).
    var ioTimeoutNanoseconds: Int
    /// How long a node that failed is passed over before it is tried again.
    var downNanoseconds: Int
    /// Each connection's send and receive buffers start this large (fits the largest page
    /// command and reply, so the data path never grows them).
    var bufferCapacity: Int
    /// Idle connections a node keeps; more concurrent users get connections that are closed
    /// when given back.
    var maxIdleConnections: Int
}

/// A node of the cluster as the tier knows it: its address, its resolved socket address and a
/// pool of idle connections.
///
/// ``acquire(counters:)`` hands a connection to one caller (an idle one, or a new one checked
/// for the cluster's rules); ``release(_:)`` takes it back unless it broke. A node that failed
/// is marked down for a while, so reads go to a replica and writes give up at once instead of
/// waiting for a time-out on every call.
final class ClusterNode: Sendable {
    /// Where it listens.
    let address: NodeAddress
    private let settings: ConnectionSettings
    private let resolved = Mutex<SocketAddress?>(nil)
    private let idle: Mutex<[RedisConnection]>
    private let downUntil = Atomic<Int>(0)

    /// A node at `address`; no connection is made until one is acquired.
    init(address: NodeAddress, settings: ConnectionSettings) {
        self.address = address
        self.settings = settings
        var pool: [RedisConnection] = []
        pool.reserveCapacity(settings.maxIdleConnections)
        idle = Mutex(pool)
    }

    /// Whether the node failed recently (see ``markDown()``).
    var isMarkedDown: Bool { downUntil.load(ordering: .relaxed) > MonotonicClock.nanoseconds() }

    /// Passes the node over for a while: it timed out, refused a connection or broke one.
    func markDown() {
        downUntil.store(MonotonicClock.nanoseconds() + settings.downNanoseconds, ordering: .relaxed)
    }

    /// Clears a down mark (the node answered).
    func markUp() {
        if downUntil.load(ordering: .relaxed) != 0 { downUntil.store(0, ordering: .relaxed) }
    }

    /// An idle connection, or a new one: connected, switched to READONLY (so a replica serves
    /// reads of its master's slots) and checked to run in cluster mode with
    /// maxmemory-policy noeviction.
    ///
    /// - Throws: ``RedisTierError/connectionFailed(node:reason:)``,
    ///   ``RedisTierError/timedOut(node:operation:milliseconds:)``,
    ///   ``RedisTierError/notACluster(node:)``, ``RedisTierError/evictionPolicy(node:policy:)``.
    func acquire(counters: RedisTierCounters) throws(RedisTierError) -> RedisConnection {
        if let connection = idle.withLock({ $0.popLast() }) { return connection }
        let address = try socketAddress()
        let connection = try RedisConnection(
            to: self.address, at: address, timeoutMilliseconds: settings.connectTimeoutNanoseconds / 1_000_000,
            bufferCapacity: settings.bufferCapacity)
        counters.connectionsOpened.add(1, ordering: .relaxed)
        let deadline = MonotonicClock.nanoseconds() + settings.connectTimeoutNanoseconds + settings.ioTimeoutNanoseconds
        try verify(connection, deadline: deadline)
        return connection
    }

    /// Takes `connection` back for the next caller, or closes it when it broke or the pool is full.
    func release(_ connection: RedisConnection) {
        guard !connection.isBroken, connection.output.readableCount == 0, connection.input.readableCount == 0 else {
            connection.close()
            return
        }
        let kept = idle.withLock { pool -> Bool in
            guard pool.count < settings.maxIdleConnections else { return false }
            pool.append(connection)
            return true
        }
        if !kept { connection.close() }
    }

    /// Closes every idle connection.
    func closeIdle() {
        let connections = idle.withLock { pool -> [RedisConnection] in
            let all = pool
            pool.removeAll(keepingCapacity: true)
            return all
        }
        for connection in connections { connection.close() }
    }

    private func socketAddress() throws(RedisTierError) -> SocketAddress {
        if let known = resolved.withLock({ $0 }) { return known }
        let address = try SocketAddress(resolving: self.address)
        resolved.withLock { $0 = address }
        return address
    }

    /// READONLY, then INFO memory's maxmemory_policy: refuse a node that is not a cluster node
    /// or may evict keys.
    private func verify(_ connection: RedisConnection, deadline: Int) throws(RedisTierError) {
        let node = address.description
        let readonly = try connection.command(["READONLY"], deadline: deadline)
        if let message = readonly.errorMessage {
            connection.close()
            if message.contains("cluster support disabled") { throw .notACluster(node: node) }
            throw .serverError(node: node, message: message)
        }
        let info = try connection.command(["INFO", "memory"], deadline: deadline)
        guard let text = info.text else {
            connection.close()
            throw .serverError(node: node, message: "INFO memory answered \(info): cannot check maxmemory-policy")
        }
        let policy = Self.field("maxmemory_policy", in: text)
        guard policy == "noeviction" else {
            connection.close()
            throw .evictionPolicy(node: node, policy: policy ?? "(not reported)")
        }
    }

    /// The value of `name:value` in an INFO text.
    static func field(_ name: String, in info: String) -> String? {
        for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix(name + ":") {
            return String(line.dropFirst(name.count + 1))
        }
        return nil
    }
}
