import Testing

@testable import RedisTier

@Suite("ClusterClient: redirects and topology refreshes")
struct ClusterClientTests {
    private func redirect(_ text: String, asked: NodeAddress = NodeAddress(host: "10.0.0.9", port: 7000)) -> Redirect? {
        Array(text.utf8).withUnsafeBytes { Redirect($0, asked: asked) }
    }

    @Test("MOVED and ASK name the slot and the node; an empty host is the one asked")
    func parsesRedirects() {
        #expect(redirect("MOVED 3999 127.0.0.1:6381") == Redirect(kind: .moved, slot: 3999, address: NodeAddress(host: "127.0.0.1", port: 6381)))
        #expect(redirect("ASK 1 h.example:7002") == Redirect(kind: .ask, slot: 1, address: NodeAddress(host: "h.example", port: 7002)))
        #expect(redirect("MOVED 2 :7005")?.address == NodeAddress(host: "10.0.0.9", port: 7005))
        #expect(redirect("MOVED 2 [::1]:7005")?.address == NodeAddress(host: "::1", port: 7005))
    }

    @Test("Other errors are not redirects", arguments: ["ERR unknown", "MOVED", "MOVED x h:1", "MOVED 99999 h:1", "ASK 1 h", "TRYAGAIN"])
    func notRedirects(text: String) {
        #expect(redirect(text) == nil)
    }

    @Test("A refresh that reaches no node names every address it tried")
    func refreshUnreachable() {
        let counters = RedisTierCounters()
        let client = ClusterClient(
            seeds: [NodeAddress(host: "127.0.0.1", port: 1), NodeAddress(host: "127.0.0.1", port: 2)], settings: unitSettings,
            counters: counters)
        #expect {
            try client.refresh()
        } throws: { error in
            guard case .unreachable(let detail) = error as? RedisTierError else { return false }
            return detail.contains("127.0.0.1:1") && detail.contains("127.0.0.1:2")
        }
        #expect(counters.failedTopologyRefreshes.load(ordering: .relaxed) == 1)
        #expect(client.topology.unservedSlots == HashSlot.count)
    }

    @Test("A node without cluster support is named as such")
    func notACluster() throws {
        let server = try FakeServer { request in
            if request.contains("READONLY") { return .send("-ERR This instance has cluster support disabled\r\n") }
            return .wait
        }
        defer { server.stop() }
        let client = ClusterClient(seeds: [NodeAddress(host: "127.0.0.1", port: server.port)], settings: unitSettings, counters: RedisTierCounters())
        #expect(throws: RedisTierError.notACluster(node: "127.0.0.1:\(server.port)")) { try client.refresh() }
    }

    @Test("A MOVED patch is seen at once, and asks for a full refresh")
    func appliesMoved() {
        let counters = RedisTierCounters()
        let client = ClusterClient(seeds: [], settings: unitSettings, counters: counters)
        let before = client.topology.generation
        client.applyMoved(slot: 42, to: NodeAddress(host: "h", port: 9))
        #expect(client.topology.generation > before)
        #expect(client.topology.masterIndex(ofSlot: 42).map { client.topology.nodes[$0].address } == NodeAddress(host: "h", port: 9))
        #expect(client.isStale)
        #expect(counters.movedRedirects.load(ordering: .relaxed) == 1)
    }
}
