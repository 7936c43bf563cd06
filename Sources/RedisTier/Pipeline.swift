import SystemSupport

/// One command of a pipelined batch: a page's SET, or a freed page's UNLINK.
struct PipelineOperation {
    /// Where the operation stands.
    enum State: UInt8 {
        /// Waiting for a round (first try, or after a redirect).
        case pending
        /// Sent in this round; its reply is owed.
        case sent
        /// Done: a SET acknowledged (WAIT included), an UNLINK answered.
        case done
        /// Given up: the reason is the pipeline's ``PipelineContext/failure``.
        case failed
    }

    /// The page's handle (the key's suffix).
    var handle: UInt64
    /// The object a SET stores (in the caller's batch), or nil for an UNLINK.
    var object: UnsafeRawPointer?
    /// The object's length.
    var length: Int
    /// The key's hash slot.
    var slot: Int
    /// The node this round sends it to (index into the round's topology), or -1.
    var node: Int
    /// The node an ASK redirect named, for the next round, or -1.
    var askNode: Int
    /// The topology generation ``askNode`` indexes.
    var askGeneration: Int
    /// Whether this round sends ASKING before it.
    var asking: Bool
    /// Where it stands.
    var state: State
    /// A SET the master answered OK, waiting for WAIT's count.
    var answered: Bool
    /// Whether it was ever sent (a SET that was may land even if it was not acknowledged).
    var everSent: Bool
}

/// What one pipelined call uses: its operations and a connection slot per node.
///
/// **Memory and ownership.** Owns `capacity` operations, allocated in `init` and freed in
/// `deinit`, and an array of connections sized to the topology (grown when the cluster grows,
/// not per call). A context is used by one call at a time: ``RedisTier`` keeps idle ones in a
/// pool and hands each to one caller, which is what makes the `@unchecked Sendable` safe.
/// Connections sit in ``connections`` only between a round's send and its receive.
///
/// **Invariant.** `0 <= count <= capacity`; operations `0..<count` are initialized.
final class PipelineContext: @unchecked Sendable {
    /// How many operations it holds at most.
    let capacity: Int
    /// The operations.
    let operations: UnsafeMutablePointer<PipelineOperation>
    /// How many it holds now.
    var count = 0
    /// A connection per node of the round's topology, between send and receive.
    var connections: [RedisConnection?] = []
    /// Why the first failed operation failed.
    var failure: RedisTierError?

    /// A context for `capacity` operations.
    init(capacity: Int) {
        self.capacity = capacity
        operations = .allocate(capacity: capacity)
    }

    deinit {
        operations.deinitialize(count: count)
        operations.deallocate()
    }

    /// Empties it for the next call.
    func reset() {
        operations.deinitialize(count: count)
        count = 0
        failure = nil
    }

    /// Adds an operation for `handle` (a SET of `object` when given, else an UNLINK).
    func add(handle: UInt64, slot: Int, object: UnsafeRawBufferPointer?) {
        precondition(count < capacity, "pipeline context overfilled")
        (operations + count).initialize(to: PipelineOperation(
            handle: handle, object: object?.baseAddress, length: object?.count ?? 0, slot: slot, node: -1,
            askNode: -1, askGeneration: 0, asking: false, state: .pending, answered: false, everSent: false))
        count += 1
    }

    /// Gives up on operation `index` for `reason` (the first reason is kept).
    func fail(_ index: Int, _ reason: RedisTierError) {
        operations[index].state = .failed
        operations[index].answered = false
        if failure == nil { failure = reason }
    }

    /// Checks the invariant; debug builds only.
    func checkInvariants() {
        #if DEBUG
        precondition(count >= 0 && count <= capacity, "context count \(count) outside 0...\(capacity)")
        for i in 0..<count where operations[i].state == .sent {
            preconditionFailure("operation \(i) still waits for a reply after its pipeline ended")
        }
        #endif
    }
}

/// The pipelined exchange of a batch of SETs (with WAIT) or UNLINKs with the cluster.
struct Pipeline {
    /// SET with a checksummed page value, or UNLINK.
    enum Kind {
        /// Store objects.
        case set
        /// Delete keys.
        case unlink
    }

    let client: ClusterClient
    let namespace: TierNamespace
    let counters: RedisTierCounters
    /// Replicas WAIT asks for (0: no WAIT).
    let replicas: Int
    let waitTimeoutMilliseconds: Int
    /// Rounds before an operation that keeps being redirected is given up.
    static let maxRounds = 4

    /// Runs every pending operation of `context`: each round sends every operation to the node
    /// serving its slot (one pipeline per node, SETs followed by WAIT) before reading any reply,
    /// then reads each node's replies in order. MOVED updates the slot's owner and ASK
    /// targets the importing node; both go again in the next round. A node that cannot be
    /// reached or answers late fails its operations at once (the caller keeps those pages).
    func run(_ context: PipelineContext, kind: Kind) {
        for _ in 0..<Self.maxRounds {
            let topology = client.topology
            if context.connections.count < topology.nodes.count {
                context.connections = [RedisConnection?](repeating: nil, count: topology.nodes.count)
            }
            guard assignNodes(context, topology) else { return }
            send(context, kind, topology)
            for node in 0..<topology.nodes.count { receive(context, kind, node: node, topology) }
        }
        for i in 0..<context.count where context.operations[i].state == .pending {
            context.fail(i, .serverError(node: "cluster", message: "redirected \(Self.maxRounds) times (the cluster is resharding)"))
        }
    }

    /// Picks each pending operation's node for this round; false when none is pending.
    private func assignNodes(_ context: PipelineContext, _ topology: ClusterTopology) -> Bool {
        var any = false
        for i in 0..<context.count where context.operations[i].state == .pending {
            let op = context.operations + i
            if op.pointee.askNode >= 0 && op.pointee.askGeneration == topology.generation {
                op.pointee.node = op.pointee.askNode
                op.pointee.asking = true
            } else if let master = topology.masterIndex(ofSlot: op.pointee.slot) {
                op.pointee.node = master
                op.pointee.asking = false
            } else {
                client.markStale()
                context.fail(i, .incompleteCoverage(unservedSlots: topology.unservedSlots))
                continue
            }
            op.pointee.askNode = -1
            any = true
        }
        return any
    }

    /// Sends every pending operation: a connection to each node that has some, then the
    /// operations in batch order, each encoded into its node's buffer (a buffer half full is
    /// sent at once, so every master starts working early and they finish together), then WAIT
    /// on each. Connections stay in the context for ``receive(_:_:node:_:)``. A node that cannot
    /// be reached, or whose connection breaks, fails its operations.
    private func send(_ context: PipelineContext, _ kind: Kind, _ topology: ClusterTopology) {
        let deadline = MonotonicClock.nanoseconds() + client.settings.ioTimeoutNanoseconds
        for i in 0..<context.count where context.operations[i].state == .pending {
            let index = context.operations[i].node
            guard context.connections[index] == nil else { continue }
            let node = topology.nodes[index]
            if node.isMarkedDown {
                // Passed over until its mark ends; failing fast must not renew the mark, or a
                // node that is asked often would never be tried again.
                let error = RedisTierError.connectionFailed(node: node.address.description, reason: "it failed recently")
                failNode(context, index, state: .pending, error, node, markDown: false)
                continue
            }
            do { context.connections[index] = try node.acquire(counters: counters) } catch {
                failNode(context, index, state: .pending, error, node)
            }
        }
        for i in 0..<context.count where context.operations[i].state == .pending {
            let op = context.operations + i
            guard let connection = context.connections[op.pointee.node] else { continue }
            if op.pointee.asking { RESP.appendArrayHeader(1, to: &connection.output); RESP.appendBulk("ASKING", to: &connection.output) }
            TierNamespace.withSuffix(op.pointee.handle) { suffix in
                if let object = op.pointee.object {
                    let bytes = UnsafeRawBufferPointer(start: object, count: op.pointee.length)
                    RESP.appendArrayHeader(3, to: &connection.output)
                    RESP.appendBulk("SET", to: &connection.output)
                    namespace.appendKey(suffix: suffix, to: &connection.output)
                    RESP.appendBulkHeader(PageValue.headerSize + bytes.count, to: &connection.output)
                    PageValue.appendHeader(checksum: namespace.checksum(suffix: suffix, object: bytes), to: &connection.output)
                    connection.output.append(bytes)
                    connection.output.appendCRLF()
                } else {
                    RESP.appendArrayHeader(2, to: &connection.output)
                    RESP.appendBulk("UNLINK", to: &connection.output)
                    namespace.appendKey(suffix: suffix, to: &connection.output)
                }
            }
            op.pointee.state = .sent
            op.pointee.everSent = true
            // Keep at most half a buffer queued, so the buffer never grows.
            if connection.output.readableCount >= connection.output.capacity / 2 {
                flush(context, op.pointee.node, topology, deadline: deadline)
            }
        }
        for index in 0..<topology.nodes.count {
            guard let connection = context.connections[index] else { continue }
            if kind == .set && replicas > 0 {
                RESP.appendArrayHeader(3, to: &connection.output)
                RESP.appendBulk("WAIT", to: &connection.output)
                RESP.appendBulk(decimal: replicas, to: &connection.output)
                RESP.appendBulk(decimal: waitTimeoutMilliseconds, to: &connection.output)
            }
            flush(context, index, topology, deadline: deadline)
        }
    }

    /// Sends node `index`'s queued commands; if its connection breaks, fails its operations
    /// (sent and still pending) and drops the connection.
    private func flush(_ context: PipelineContext, _ index: Int, _ topology: ClusterTopology, deadline: Int) {
        guard let connection = context.connections[index] else { return }
        do { try connection.flush(deadline: deadline) } catch {
            let node = topology.nodes[index]
            connection.markBroken()
            node.release(connection)
            context.connections[index] = nil
            failNode(context, index, state: .sent, error, node)
            failNode(context, index, state: .pending, error, node)
        }
    }

    /// Reads node `node`'s replies in the order its commands went out and settles each operation.
    private func receive(_ context: PipelineContext, _ kind: Kind, node index: Int, _ topology: ClusterTopology) {
        guard let connection = context.connections[index] else { return }
        context.connections[index] = nil
        let node = topology.nodes[index]
        var deadline = MonotonicClock.nanoseconds() + client.settings.ioTimeoutNanoseconds
        if kind == .set && replicas > 0 { deadline += waitTimeoutMilliseconds * 1_000_000 }
        do {
            for i in 0..<context.count where context.operations[i].state == .sent && context.operations[i].node == index {
                let op = context.operations + i
                if op.pointee.asking {
                    let reply = try connection.readReply(deadline: deadline)
                    connection.consume(reply)
                }
                let reply = try connection.readReply(deadline: deadline)
                settle(context, i, reply, connection, node, topology)
                connection.consume(reply)
            }
            if kind == .set && replicas > 0 {
                let reply = try connection.readReply(deadline: deadline)
                let acknowledged = reply.kind == .integer ? reply.integer : -1
                connection.consume(reply)
                for i in 0..<context.count where context.operations[i].state == .sent && context.operations[i].node == index {
                    if acknowledged >= replicas {
                        context.operations[i].state = .done
                    } else {
                        counters.replicaShortfalls.add(1, ordering: .relaxed)
                        context.fail(i, .serverError(
                            node: node.address.description,
                            message: "WAIT \(replicas) answered \(max(acknowledged, 0)) replicas within \(waitTimeoutMilliseconds) ms"))
                    }
                }
            } else {
                for i in 0..<context.count where context.operations[i].state == .sent && context.operations[i].node == index {
                    context.operations[i].state = .done
                }
            }
            node.markUp()
            node.release(connection)
        } catch {
            connection.markBroken()
            node.release(connection)
            failNode(context, index, state: .sent, error, node)
        }
    }

    /// Settles operation `i` from its reply: an OK waits for WAIT, an integer ends an UNLINK,
    /// a redirect sends it round again, anything else fails it.
    private func settle(
        _ context: PipelineContext, _ i: Int, _ reply: RESPReply, _ connection: RedisConnection, _ node: ClusterNode,
        _ topology: ClusterTopology
    ) {
        let op = context.operations + i
        switch reply.kind {
        case .simple:
            op.pointee.answered = true  // stays .sent until WAIT's count (or the end of the replies)
        case .integer:
            if reply.integer == 0 { counters.unlinksOfMissingKeys.add(1, ordering: .relaxed) }
            op.pointee.answered = true
        case .error:
            let message = connection.payload(of: reply)
            if let redirect = Redirect(message, asked: node.address) {
                op.pointee.state = .pending
                switch redirect.kind {
                case .moved:
                    client.applyMoved(slot: redirect.slot, to: redirect.address)
                case .ask:
                    counters.askRedirects.add(1, ordering: .relaxed)
                    if let target = topology.index(of: redirect.address) {
                        op.pointee.askNode = target
                        op.pointee.askGeneration = topology.generation
                    } else {
                        client.markStale()
                    }
                }
                return
            }
            let text = String(decoding: message, as: UTF8.self)
            if text.hasPrefix("OOM") { counters.clusterFullRefusals.add(1, ordering: .relaxed) }
            if text.hasPrefix("CLUSTERDOWN") || text.hasPrefix("TRYAGAIN") || text.hasPrefix("MASTERDOWN") || text.hasPrefix("READONLY") {
                client.markStale()
            }
            context.fail(i, .serverError(node: node.address.description, message: text))
        default:
            context.fail(i, .protocolViolation(node: node.address.description, detail: "a \(reply.kind) reply to \(op.pointee.object == nil ? "UNLINK" : "SET")"))
        }
    }

    /// Fails every operation of node `index` in `state` (the node could not be reached, or its
    /// connection broke), marks the node down (unless it already was) and asks for a refresh.
    private func failNode(
        _ context: PipelineContext, _ index: Int, state: PipelineOperation.State, _ error: RedisTierError, _ node: ClusterNode,
        markDown: Bool = true
    ) {
        switch error {
        case .timedOut, .connectionFailed, .protocolViolation: if markDown { node.markDown() }
        default: break
        }
        client.markStale()
        for i in 0..<context.count where context.operations[i].state == state && context.operations[i].node == index {
            context.fail(i, error)
        }
    }
}
