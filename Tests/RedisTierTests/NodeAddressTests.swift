import Testing

@testable import RedisTier

@Suite("NodeAddress: where a node listens, and seed lists")
struct NodeAddressTests {
    @Test("HOST:PORT and [IPV6]:PORT parse", arguments: [
        ("127.0.0.1:7100", "127.0.0.1", 7100), ("redis-a.local:6380", "redis-a.local", 6380), ("[::1]:7000", "::1", 7000),
        (" 10.0.0.1:1 ", "10.0.0.1", 1),
    ])
    func parses(text: String, host: String, port: Int) throws {
        let address = try NodeAddress(parsing: text[...])
        #expect(address == NodeAddress(host: host, port: port))
    }

    @Test("IPv6 hosts print in brackets")
    func description() {
        #expect(NodeAddress(host: "::1", port: 7).description == "[::1]:7")
        #expect(NodeAddress(host: "h", port: 7).description == "h:7")
    }

    @Test("Bad addresses are refused with what to write", arguments: ["127.0.0.1", ":7000", "h:0", "h:70000", "h:x", "[::1]7000"])
    func refuses(text: String) {
        #expect {
            _ = try NodeAddress(parsing: text[...])
        } throws: { error in
            guard case .invalidConfiguration(let message) = error as? RedisTierError else { return false }
            return message.contains("'")
        }
    }

    @Test("A seed list is redis://HOST:PORT[,HOST:PORT...], the scheme optional")
    func seeds() throws {
        #expect(try NodeAddress.seeds(from: "redis://127.0.0.1:7100,127.0.0.1:7101") == [
            NodeAddress(host: "127.0.0.1", port: 7100), NodeAddress(host: "127.0.0.1", port: 7101),
        ])
        #expect(try NodeAddress.seeds(from: "h:1/").isEmpty == false)
        #expect(try NodeAddress.seeds(from: "redis://h:1,,h:2/").count == 2)
    }

    @Test("Another scheme or an empty list is refused", arguments: ["http://h:1", "redis://", "", "file:///tmp/x"])
    func refusesSeeds(url: String) {
        #expect(throws: RedisTierError.self) { _ = try NodeAddress.seeds(from: url) }
    }
}
