/// One snapshot of who serves what: every hash slot's shard (a master and its replicas), as
/// CLUSTER SHARDS (or, before Redis 7, CLUSTER SLOTS) reported it, patched by MOVED redirects
/// since.
///
/// Snapshots never change once made; the client swaps in a new one (a refresh, a MOVED), so a
/// caller that took one may keep using it without a lock.
final class ClusterTopology: Sendable {
    /// A master and its replicas, by index into ``nodes``.
    struct Shard: Sendable, Equatable {
        /// The master's index.
        var master: Int
        /// The replicas' indices.
        var replicas: [Int]
    }

    /// Counts snapshots: a caller that saw generation g and failed asks for a refresh only if no
    /// newer snapshot came meanwhile.
    let generation: Int
    /// Every node named (masters and replicas).
    let nodes: [ClusterNode]
    /// The shards.
    let shards: [Shard]
    /// Each slot's shard index, or -1 when no node serves it.
    let shardOfSlot: [Int16]

    /// A snapshot of `shards` over `nodes`, with `shardOfSlot` (16384 entries).
    init(generation: Int, nodes: [ClusterNode], shards: [Shard], shardOfSlot: [Int16]) {
        precondition(shardOfSlot.count == HashSlot.count, "a topology maps every hash slot")
        self.generation = generation
        self.nodes = nodes
        self.shards = shards
        self.shardOfSlot = shardOfSlot
    }

    /// A topology that serves nothing (before the first refresh).
    static func empty() -> ClusterTopology {
        ClusterTopology(generation: 0, nodes: [], shards: [], shardOfSlot: [Int16](repeating: -1, count: HashSlot.count))
    }

    /// The master serving `slot`, or `nil`.
    @inline(__always)
    func masterIndex(ofSlot slot: Int) -> Int? {
        let shard = Int(shardOfSlot[slot])
        return shard < 0 ? nil : shards[shard].master
    }

    /// The shard serving `slot`, or `nil`.
    func shard(ofSlot slot: Int) -> Shard? {
        let shard = Int(shardOfSlot[slot])
        return shard < 0 ? nil : shards[shard]
    }

    /// Slots no node serves.
    var unservedSlots: Int { shardOfSlot.reduce(0) { $0 + ($1 < 0 ? 1 : 0) } }

    /// The masters, one per shard.
    var masters: [ClusterNode] { shards.map { nodes[$0.master] } }

    /// The index of the node at `address`, or `nil`.
    func index(of address: NodeAddress) -> Int? { nodes.firstIndex { $0.address == address } }

    /// This topology with `slot` served by the master at `address` (a MOVED redirect), as
    /// snapshot `generation`. `node` gives the node object for an address.
    func moving(slot: Int, to address: NodeAddress, generation: Int, node: (NodeAddress) -> ClusterNode) -> ClusterTopology {
        var nodes = self.nodes
        let target: Int
        if let known = index(of: address) {
            target = known
        } else {
            nodes.append(node(address))
            target = nodes.count - 1
        }
        var shards = self.shards
        var shardOfSlot = self.shardOfSlot
        if let existing = shards.firstIndex(where: { $0.master == target }) {
            shardOfSlot[slot] = Int16(existing)
        } else {
            shards.append(Shard(master: target, replicas: []))
            shardOfSlot[slot] = Int16(shards.count - 1)
        }
        return ClusterTopology(generation: generation, nodes: nodes, shards: shards, shardOfSlot: shardOfSlot)
    }

    /// Parses a CLUSTER SHARDS reply (Redis 7): one map per shard, `slots` (start and end
    /// pairs) and `nodes` (maps with `ip`, `endpoint`, `port`, `role`, `health`). Unlike CLUSTER
    /// SLOTS it names replicas that have not replicated anything yet, so every node is known (and
    /// checked) from the start. Replicas whose health is `failed` are left out; a node reported
    /// without an address is the one that answered.
    ///
    /// - Throws: ``RedisTierError/protocolViolation(node:detail:)`` for a reply of another shape.
    static func parse(
        shards reply: RESPValue, answering: NodeAddress, generation: Int, node: @escaping (NodeAddress) -> ClusterNode
    ) throws(RedisTierError) -> ClusterTopology {
        func bad(_ detail: String) -> RedisTierError {
            .protocolViolation(node: answering.description, detail: "CLUSTER SHARDS: \(detail)")
        }
        /// A RESP2 map (a flat array of names and values) as a dictionary.
        func map(_ value: RESPValue) -> [String: RESPValue]? {
            guard let items = value.elements, items.count % 2 == 0 else { return nil }
            var result: [String: RESPValue] = [:]
            for i in stride(from: 0, to: items.count, by: 2) {
                guard let name = items[i].text else { return nil }
                result[name] = items[i + 1]
            }
            return result
        }
        guard let entries = reply.elements else { throw bad("not an array") }
        var nodes = NodeTable(answering: answering, make: node)
        var shards: [Shard] = []
        var shardOfSlot = [Int16](repeating: -1, count: HashSlot.count)
        for entry in entries {
            guard let shard = map(entry), let slotList = shard["slots"]?.elements, let nodeList = shard["nodes"]?.elements else {
                throw bad("a shard without slots and nodes")
            }
            var master: Int?
            var replicas: [Int] = []
            for value in nodeList {
                guard let fields = map(value), let port = (fields["port"] ?? fields["tls-port"])?.integerValue,
                    port > 0 && port < 65536
                else { throw bad("a node without a port") }
                let index = nodes.index(host: fields["endpoint"]?.text, or: fields["ip"]?.text, port: port)
                if fields["role"]?.text == "master" {
                    master = index
                } else if fields["health"]?.text != "failed" {
                    replicas.append(index)
                }
            }
            guard let master, !slotList.isEmpty else { continue }  // a shard serving no slot
            guard slotList.count % 2 == 0 else { throw bad("an odd number of slot bounds") }
            shards.append(Shard(master: master, replicas: replicas))
            for i in stride(from: 0, to: slotList.count, by: 2) {
                guard let start = slotList[i].integerValue, let end = slotList[i + 1].integerValue, start >= 0, end >= start,
                    end < HashSlot.count
                else { throw bad("a slot range out of bounds") }
                for slot in start...end { shardOfSlot[slot] = Int16(shards.count - 1) }
            }
        }
        return ClusterTopology(generation: generation, nodes: nodes.nodes, shards: shards, shardOfSlot: shardOfSlot)
    }

    /// Parses a CLUSTER SLOTS reply: `[[start, end, [ip, port, id, ...], replica..., ...], ...]`.
    /// A node reported with an empty ip is the one that answered (`answering`'s host).
    ///
    /// - Throws: ``RedisTierError/protocolViolation(node:detail:)`` for a reply of another shape.
    static func parse(
        slots reply: RESPValue, answering: NodeAddress, generation: Int, node: @escaping (NodeAddress) -> ClusterNode
    ) throws(RedisTierError) -> ClusterTopology {
        func bad(_ detail: String) -> RedisTierError {
            .protocolViolation(node: answering.description, detail: "CLUSTER SLOTS: \(detail)")
        }
        guard let ranges = reply.elements else { throw bad("not an array") }
        var nodes = NodeTable(answering: answering, make: node)
        var shards: [Shard] = []
        var shardByMaster: [Int: Int] = [:]
        var shardOfSlot = [Int16](repeating: -1, count: HashSlot.count)

        func nodeIndex(_ value: RESPValue) throws(RedisTierError) -> Int {
            guard let fields = value.elements, fields.count >= 2, let port = fields[1].integerValue,
                port > 0 && port < 65536
            else { throw bad("a node entry without ip and port") }
            return nodes.index(host: fields[0].text, or: nil, port: port)
        }

        for range in ranges {
            guard let fields = range.elements, fields.count >= 3, let start = fields[0].integerValue,
                let end = fields[1].integerValue, start >= 0, end >= start, end < HashSlot.count
            else { throw bad("a slot range without start, end and master") }
            let master = try nodeIndex(fields[2])
            let shard: Int
            if let known = shardByMaster[master] {
                shard = known
            } else {
                var replicas: [Int] = []
                for replica in fields.dropFirst(3) { replicas.append(try nodeIndex(replica)) }
                shards.append(Shard(master: master, replicas: replicas))
                shard = shards.count - 1
                shardByMaster[master] = shard
            }
            for slot in start...end { shardOfSlot[slot] = Int16(shard) }
        }
        return ClusterTopology(generation: generation, nodes: nodes.nodes, shards: shards, shardOfSlot: shardOfSlot)
    }
}

/// The nodes a topology reply names, each once, in the order first named.
private struct NodeTable {
    let answering: NodeAddress
    let make: (NodeAddress) -> ClusterNode
    var nodes: [ClusterNode] = []
    var indexByAddress: [NodeAddress: Int] = [:]

    init(answering: NodeAddress, make: @escaping (NodeAddress) -> ClusterNode) {
        self.answering = answering
        self.make = make
    }

    /// The index of the node at `host` (or `fallback` when `host` is empty or "?", or the node
    /// that answered when both are) and `port`, added when new.
    mutating func index(host: String?, or fallback: String?, port: Int) -> Int {
        var name = host ?? ""
        if name.isEmpty || name == "?" { name = fallback ?? "" }
        if name.isEmpty || name == "?" { name = answering.host }
        let address = NodeAddress(host: name, port: port)
        if let known = indexByAddress[address] { return known }
        nodes.append(make(address))
        indexByAddress[address] = nodes.count - 1
        return nodes.count - 1
    }
}
