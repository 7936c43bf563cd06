import Testing

@testable import RedisTier

/// Settings for unit tests: short time limits, small pools.
let unitSettings = ConnectionSettings(
    connectTimeoutNanoseconds: 200_000_000, ioTimeoutNanoseconds: 200_000_000, downNanoseconds: 200_000_000,
    bufferCapacity: 1 << 16, maxIdleConnections: 2)

@Suite("ClusterTopology: who serves each hash slot")
struct ClusterTopologyTests {
    private func node(_ address: NodeAddress) -> ClusterNode { ClusterNode(address: address, settings: unitSettings) }

    private func bulk(_ text: String) -> RESPValue { .bulk(Array(text.utf8)) }

    private func shardNode(_ port: Int, role: String, health: String = "online", ip: String = "127.0.0.1") -> RESPValue {
        .array([bulk("id"), bulk("x\(port)"), bulk("port"), .integer(port), bulk("ip"), bulk(ip), bulk("endpoint"), bulk(ip),
                bulk("role"), bulk(role), bulk("replication-offset"), .integer(0), bulk("health"), bulk(health)])
    }

    @Test("CLUSTER SHARDS: every slot has its master; replicas, loading ones included, are known")
    func parsesShards() throws {
        let reply = RESPValue.array([
            .array([bulk("slots"), .array([.integer(0), .integer(8191)]),
                    bulk("nodes"), .array([shardNode(7000, role: "master"), shardNode(7002, role: "replica", health: "loading")])]),
            .array([bulk("slots"), .array([.integer(8192), .integer(10000), .integer(10001), .integer(16383)]),
                    bulk("nodes"), .array([shardNode(7003, role: "replica", health: "failed"), shardNode(7001, role: "master", ip: "")])]),
            .array([bulk("slots"), .array([]), bulk("nodes"), .array([shardNode(7009, role: "master")])]),
        ])
        let asked = NodeAddress(host: "10.1.1.1", port: 7000)
        let topology = try ClusterTopology.parse(shards: reply, answering: asked, generation: 3, node: node)
        #expect(topology.generation == 3)
        #expect(topology.unservedSlots == 0)
        #expect(topology.shards.count == 2)
        #expect(topology.nodes.count == 5)  // the slotless master and the failed replica are still known
        let first = try #require(topology.shard(ofSlot: 100))
        #expect(topology.nodes[first.master].address == NodeAddress(host: "127.0.0.1", port: 7000))
        #expect(first.replicas.map { topology.nodes[$0].address.port } == [7002])
        let second = try #require(topology.shard(ofSlot: 16383))
        #expect(topology.nodes[second.master].address == NodeAddress(host: "10.1.1.1", port: 7001))
        #expect(second.replicas.isEmpty)
        #expect(topology.masters.map(\.address.port) == [7000, 7001])
    }

    @Test("CLUSTER SLOTS: ranges with a master and replicas; gaps are unserved")
    func parsesSlots() throws {
        func entry(_ port: Int) -> RESPValue { .array([bulk("127.0.0.1"), .integer(port), bulk("id\(port)")]) }
        let reply = RESPValue.array([
            .array([.integer(0), .integer(99), entry(7000), entry(7003)]),
            .array([.integer(200), .integer(16383), entry(7001)]),
            .array([.integer(100), .integer(149), entry(7000), entry(7003)]),
        ])
        let topology = try ClusterTopology.parse(slots: reply, answering: NodeAddress(host: "h", port: 1), generation: 1, node: node)
        #expect(topology.unservedSlots == 50)
        #expect(topology.masterIndex(ofSlot: 150) == nil)
        #expect(topology.shards.count == 2)
        #expect(topology.shard(ofSlot: 120) == topology.shard(ofSlot: 0))
    }

    @Test("Replies of another shape are a protocol violation naming the node", arguments: [
        RESPValue.integer(1),
        .array([.array([.bulk(Array("slots".utf8))])]),
        .array([.array([.bulk(Array("slots".utf8)), .array([.integer(0), .integer(1)]), .bulk(Array("nodes".utf8)),
                        .array([.array([.bulk(Array("ip".utf8)), .bulk(Array("h".utf8))])])])]),
        .array([.array([.bulk(Array("slots".utf8)), .array([.integer(0)]), .bulk(Array("nodes".utf8)),
                        .array([.array([.bulk(Array("port".utf8)), .integer(7), .bulk(Array("role".utf8)), .bulk(Array("master".utf8))])])])]),
    ])
    func refusesShapes(reply: RESPValue) {
        let asked = NodeAddress(host: "h", port: 1)
        #expect {
            _ = try ClusterTopology.parse(shards: reply, answering: asked, generation: 1, node: node)
        } throws: { error in
            guard case .protocolViolation(let node, let detail) = error as? RedisTierError else { return false }
            return node == "h:1" && detail.hasPrefix("CLUSTER SHARDS")
        }
        #expect(throws: RedisTierError.self) {
            _ = try ClusterTopology.parse(slots: .array([.array([.integer(5)])]), answering: asked, generation: 1, node: node)
        }
    }

    @Test("A MOVED patch gives one slot to another master, known or new")
    func moving() throws {
        let a = node(NodeAddress(host: "h", port: 1))
        let topology = ClusterTopology(
            generation: 1, nodes: [a], shards: [.init(master: 0, replicas: [])],
            shardOfSlot: [Int16](repeating: 0, count: HashSlot.count))
        let b = NodeAddress(host: "h", port: 2)
        let moved = topology.moving(slot: 5, to: b, generation: 2) { self.node($0) }
        #expect(moved.generation == 2)
        #expect(moved.nodes[try #require(moved.masterIndex(ofSlot: 5))].address == b)
        #expect(moved.masterIndex(ofSlot: 6) == 0)
        let back = moved.moving(slot: 5, to: a.address, generation: 3) { self.node($0) }
        #expect(back.masterIndex(ofSlot: 5) == 0 && back.nodes.count == 2)
        #expect(ClusterTopology.empty().unservedSlots == HashSlot.count)
    }
}
