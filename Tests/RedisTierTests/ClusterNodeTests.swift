import Testing

@testable import RedisTier

@Suite("ClusterNode: a node's connections, checked for the cluster's rules")
struct ClusterNodeTests {
    private func server(policy: String) throws -> FakeServer {
        try FakeServer { request in
            if request.hasSuffix("READONLY\r\n") { return .send("+OK\r\n") }
            if request.hasSuffix("memory\r\n") {
                let info = "# Memory\r\nused_memory:1\r\nmaxmemory_policy:\(policy)\r\n"
                return .send("$\(info.utf8.count)\r\n\(info)\r\n")
            }
            if request.hasSuffix("PING\r\n") { return .send("+PONG\r\n") }
            return .wait
        }
    }

    @Test("A noeviction node's connection is handed out, taken back and reused")
    func poolReuse() throws {
        let server = try server(policy: "noeviction")
        defer { server.stop() }
        let counters = RedisTierCounters()
        let node = ClusterNode(address: NodeAddress(host: "127.0.0.1", port: server.port), settings: unitSettings)
        let first = try node.acquire(counters: counters)
        node.release(first)
        let second = try node.acquire(counters: counters)
        #expect(first === second)
        #expect(counters.connectionsOpened.load(ordering: .relaxed) == 1)
        second.markBroken()
        node.release(second)
        let third = try node.acquire(counters: counters)
        #expect(third !== second)
        node.release(third)
        node.closeIdle()
    }

    @Test("A node that may evict keys is refused, naming its policy", arguments: ["allkeys-lru", "volatile-ttl"])
    func evictingNodeRefused(policy: String) throws {
        let server = try server(policy: policy)
        defer { server.stop() }
        let node = ClusterNode(address: NodeAddress(host: "127.0.0.1", port: server.port), settings: unitSettings)
        #expect(throws: RedisTierError.evictionPolicy(node: "127.0.0.1:\(server.port)", policy: policy)) {
            _ = try node.acquire(counters: RedisTierCounters())
        }
    }

    @Test("Marked down for a while after a failure, up again when it answers")
    func downMarks() {
        let node = ClusterNode(address: NodeAddress(host: "h", port: 1), settings: unitSettings)
        #expect(!node.isMarkedDown)
        node.markDown()
        #expect(node.isMarkedDown)
        node.markUp()
        #expect(!node.isMarkedDown)
    }

    @Test("INFO fields are read by name")
    func infoField() {
        let info = "# Memory\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n"
        #expect(ClusterNode.field("maxmemory_policy", in: info) == "noeviction")
        #expect(ClusterNode.field("maxmemory", in: info) == "0")
        #expect(ClusterNode.field("missing", in: info) == nil)
    }
}
