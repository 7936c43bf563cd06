import Synchronization
import SystemSupport

/// A redirect a node answered with: the slot moved for good (MOVED), or one key of a slot being
/// migrated is already at the importing node (ASK).
struct Redirect: Equatable {
    /// MOVED or ASK.
    enum Kind: Equatable {
        /// Update the slot's owner, then retry.
        case moved
        /// Send ASKING then the command to the target, once; the slot's owner stays.
        case ask
    }

    /// MOVED or ASK.
    var kind: Kind
    /// The slot.
    var slot: Int
    /// Where to go.
    var address: NodeAddress

    /// A redirect of `kind` for `slot` to `address`.
    init(kind: Kind, slot: Int, address: NodeAddress) {
        self.kind = kind
        self.slot = slot
        self.address = address
    }

    /// Parses `MOVED 3999 127.0.0.1:6381` or `ASK 3999 127.0.0.1:6381` (an empty host means the
    /// host of `asked`); `nil` for any other error.
    init?(_ message: UnsafeRawBufferPointer, asked: NodeAddress) {
        let kind: Kind
        let prefixLength: Int
        if message.starts(with: "MOVED ".utf8) {
            kind = .moved
            prefixLength = 6
        } else if message.starts(with: "ASK ".utf8) {
            kind = .ask
            prefixLength = 4
        } else {
            return nil
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: message[prefixLength...]), as: UTF8.self)
        let parts = text.split(separator: " ")
        guard parts.count == 2, let slot = Int(parts[0]), slot >= 0 && slot < HashSlot.count,
            let colon = parts[1].lastIndex(of: ":"), let port = Int(parts[1][parts[1].index(after: colon)...])
        else { return nil }
        var host = String(parts[1][..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = asked.host }
        self.kind = kind
        self.slot = slot
        self.address = NodeAddress(host: host, port: port)
    }
}

/// The cluster as the tier sees it: the seed addresses, a node object (with its connection
/// pool) per address ever seen, and the current ``ClusterTopology``, refreshed from CLUSTER
/// SLOTS and patched by MOVED redirects.
///
/// Thread safety: the node table and the current snapshot sit behind one `Mutex`; refreshes are
/// serialized by another, and a caller that saw an old generation fail skips its refresh when a
/// newer snapshot arrived meanwhile.
final class ClusterClient: Sendable {
    /// The addresses the tier was given.
    let seeds: [NodeAddress]
    /// Time limits and buffer sizes.
    let settings: ConnectionSettings
    /// The tier's counters.
    let counters: RedisTierCounters

    private struct State {
        var topology: ClusterTopology
        var nodes: [NodeAddress: ClusterNode]
    }

    private let state: Mutex<State>
    /// Serializes refreshes; holds when the last one finished (monotonic nanoseconds).
    private let refreshing = Mutex<Int>(0)
    private let stale = Atomic<Bool>(false)

    /// A client of the cluster reachable through `seeds`; nothing is connected yet.
    init(seeds: [NodeAddress], settings: ConnectionSettings, counters: RedisTierCounters) {
        self.seeds = seeds
        self.settings = settings
        self.counters = counters
        state = Mutex(State(topology: .empty(), nodes: [:]))
    }

    /// The current snapshot.
    var topology: ClusterTopology { state.withLock { $0.topology } }

    /// The node object for `address`, made on first use.
    func node(for address: NodeAddress) -> ClusterNode {
        state.withLock { state in
            if let known = state.nodes[address] { return known }
            let node = ClusterNode(address: address, settings: settings)
            state.nodes[address] = node
            return node
        }
    }

    /// Asks for a refresh at the next chance (the maintenance thread's, or the next failure's).
    func markStale() { stale.store(true, ordering: .relaxed) }

    /// Whether a refresh was asked for.
    var isStale: Bool { stale.load(ordering: .relaxed) }

    /// Follows a MOVED redirect: the slot's owner is now the node at `address` (the rest of the
    /// map is refreshed later, since one slot moving usually means more did).
    func applyMoved(slot: Int, to address: NodeAddress) {
        counters.movedRedirects.add(1, ordering: .relaxed)
        let target = node(for: address)
        state.withLock { state in
            let current = state.topology
            if let master = current.masterIndex(ofSlot: slot), current.nodes[master] === target { return }
            state.topology = current.moving(slot: slot, to: address, generation: current.generation + 1) { _ in target }
        }
        markStale()
    }

    /// Reads the layout (CLUSTER SHARDS) from the first node that answers (the current masters, then the other
    /// known nodes, then the seeds) and installs it. With `after`, a refresh is skipped when a
    /// snapshot newer than that generation is already there; with `minimumInterval`, when the
    /// last refresh finished more recently than that. With a `deadline` (monotonic nanoseconds),
    /// no node is asked once it passed, and a refresh another thread is running is not waited
    /// for (the current snapshot is returned): a read must not spend its retry window behind
    /// refreshes that ask every stopped node in turn for an I/O timeout each.
    ///
    /// - Throws: ``RedisTierError/unreachable(_:)`` with every address tried and why it failed;
    ///   ``RedisTierError/notACluster(node:)`` or ``RedisTierError/evictionPolicy(node:policy:)``
    ///   when that was the only kind of answer.
    @discardableResult
    func refresh(after generation: Int? = nil, minimumIntervalNanoseconds: Int = 0, deadline: Int? = nil) throws(RedisTierError) -> ClusterTopology {
        guard let deadline else {
            return try refreshing.withLock { (lastFinished: inout Int) throws(RedisTierError) -> ClusterTopology in
                try refreshLocked(lastFinished: &lastFinished, after: generation, minimumIntervalNanoseconds: minimumIntervalNanoseconds, deadline: .max)
            }
        }
        let refreshed = try refreshing.withLockIfAvailable { (lastFinished: inout Int) throws(RedisTierError) -> ClusterTopology in
            try refreshLocked(lastFinished: &lastFinished, after: generation, minimumIntervalNanoseconds: minimumIntervalNanoseconds, deadline: deadline)
        }
        return refreshed ?? topology
    }

    /// ``refresh(after:minimumIntervalNanoseconds:deadline:)``'s work, under `refreshing`.
    private func refreshLocked(
        lastFinished: inout Int, after generation: Int?, minimumIntervalNanoseconds: Int, deadline: Int
    ) throws(RedisTierError) -> ClusterTopology {
        let current = topology
        if let generation, current.generation > generation { return current }
        if minimumIntervalNanoseconds > 0 && MonotonicClock.nanoseconds() - lastFinished < minimumIntervalNanoseconds {
            return current
        }
        defer { lastFinished = MonotonicClock.nanoseconds() }
        var candidates: [NodeAddress] = []
        var seen = Set<NodeAddress>()
        let masters = current.masters
        let ordered = masters.filter { !$0.isMarkedDown } + current.nodes.filter { !$0.isMarkedDown }
            + masters.filter { $0.isMarkedDown }
        for address in ordered.map(\.address) + seeds where seen.insert(address).inserted {
            candidates.append(address)
        }
        var failures: [String] = []
        var fatal: RedisTierError?
        var partial: ClusterTopology?
        for address in candidates {
            if MonotonicClock.nanoseconds() >= deadline {
                failures.append("\(address): not asked, the caller's time ran out")
                continue
            }
            let node = node(for: address)
            do throws(RedisTierError) {
                let parsed = try readTopology(from: node, generation: current.generation + 1)
                if parsed.unservedSlots == 0 { return install(parsed) }
                if partial == nil || parsed.unservedSlots < partial!.unservedSlots { partial = parsed }
                failures.append("\(address): serves only \(HashSlot.count - parsed.unservedSlots) slots")
            } catch {
                switch error {
                case .notACluster, .evictionPolicy: fatal = error
                case .timedOut, .connectionFailed, .protocolViolation: node.markDown()
                default: break
                }
                failures.append("\(address): \(error)")
            }
        }
        if let partial { return install(partial) }
        counters.failedTopologyRefreshes.add(1, ordering: .relaxed)
        if let fatal { throw fatal }
        throw .unreachable(failures.joined(separator: "; "))
    }

    /// Asks `node` for the layout: CLUSTER SHARDS, or CLUSTER SLOTS where the server predates it.
    private func readTopology(from node: ClusterNode, generation: Int) throws(RedisTierError) -> ClusterTopology {
        let connection = try node.acquire(counters: counters)
        let deadline = MonotonicClock.nanoseconds() + settings.ioTimeoutNanoseconds
        var reply = try connection.command(["CLUSTER", "SHARDS"], deadline: deadline)
        var shards = true
        if let message = reply.errorMessage, !message.contains("cluster support disabled") {
            reply = try connection.command(["CLUSTER", "SLOTS"], deadline: deadline)
            shards = false
        }
        node.release(connection)
        node.markUp()
        if let message = reply.errorMessage {
            if message.contains("cluster support disabled") { throw .notACluster(node: node.address.description) }
            throw .serverError(node: node.address.description, message: message)
        }
        if shards {
            return try ClusterTopology.parse(shards: reply, answering: node.address, generation: generation, node: self.node(for:))
        }
        return try ClusterTopology.parse(slots: reply, answering: node.address, generation: generation, node: self.node(for:))
    }

    /// Refreshes if a refresh was asked for and the last one is at least `minimumInterval` old;
    /// failures are counted, not thrown (the next one retries). With a `deadline`, as
    /// ``refresh(after:minimumIntervalNanoseconds:deadline:)`` says.
    func refreshIfStale(minimumIntervalNanoseconds: Int, deadline: Int? = nil) {
        guard isStale else { return }
        _ = try? refresh(minimumIntervalNanoseconds: minimumIntervalNanoseconds, deadline: deadline)
    }

    private func install(_ topology: ClusterTopology) -> ClusterTopology {
        let installed = state.withLock { state in
            // Generations only grow, whatever MOVED patches came in while this one was read.
            state.topology = ClusterTopology(
                generation: max(topology.generation, state.topology.generation + 1), nodes: topology.nodes,
                shards: topology.shards, shardOfSlot: topology.shardOfSlot)
            return state.topology
        }
        stale.store(false, ordering: .relaxed)
        counters.topologyRefreshes.add(1, ordering: .relaxed)
        return installed
    }

    /// Every node object known (for closing).
    var allNodes: [ClusterNode] { state.withLock { Array($0.nodes.values) } }

    /// Closes every idle connection of every node.
    func closeAll() {
        for node in allNodes { node.closeIdle() }
    }
}
