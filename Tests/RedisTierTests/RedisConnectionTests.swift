import SystemSupport
import Testing

@testable import RedisTier

@Suite("RedisConnection: one socket, its buffers and its deadlines")
struct RedisConnectionTests {
    private func connect(_ server: FakeServer) throws -> RedisConnection {
        let node = NodeAddress(host: "127.0.0.1", port: server.port)
        return try RedisConnection(to: node, at: SocketAddress(resolving: node), timeoutMilliseconds: 500, bufferCapacity: 4096)
    }

    private func deadline(_ milliseconds: Int) -> Int { MonotonicClock.nanoseconds() + milliseconds * 1_000_000 }

    @Test("A command and its reply, then the next on the same connection")
    func commandAndReply() throws {
        let server = try FakeServer { request in
            request.hasSuffix("PING\r\n") ? .send("+PONG\r\n") : request.hasSuffix("big\r\n") ? .send("$10000\r\n" + String(repeating: "x", count: 10000) + "\r\n") : .wait
        }
        defer { server.stop() }
        let connection = try connect(server)
        #expect(try connection.command(["PING"], deadline: deadline(500)) == .simple("PONG"))
        // A reply larger than the buffer grows it (control plane).
        #expect(try connection.command(["GET", "big"], deadline: deadline(500)).text?.count == 10000)
        #expect(try connection.command(["PING"], deadline: deadline(500)) == .simple("PONG"))
        connection.checkInvariants()
        #expect(!connection.isBroken)
    }

    @Test("A server that never answers: the reply times out and the connection is broken")
    func silentServerTimesOut() throws {
        let server = try FakeServer { _ in .silent }
        defer { server.stop() }
        let connection = try connect(server)
        let started = MonotonicClock.nanoseconds()
        #expect {
            _ = try connection.command(["GET", "k"], deadline: deadline(150))
        } throws: { error in
            guard case .timedOut(let node, let operation, _) = error as? RedisTierError else { return false }
            return node == "127.0.0.1:\(server.port)" && operation == "a reply"
        }
        let waited = (MonotonicClock.nanoseconds() - started) / 1_000_000
        #expect(waited >= 140)
        #expect(connection.isBroken)
    }

    @Test("A server that closes the connection, or sends what is not RESP, breaks it", arguments: [FakeServer.Action.close, .send("hello\r\n")])
    func brokenPeers(action: FakeServer.Action) throws {
        let server = try FakeServer { _ in action }
        defer { server.stop() }
        let connection = try connect(server)
        #expect {
            _ = try connection.command(["PING"], deadline: deadline(500))
        } throws: { error in
            guard case .protocolViolation = error as? RedisTierError else { return false }
            return true
        }
        #expect(connection.isBroken)
        #expect(throws: RedisTierError.self) { _ = try connection.command(["PING"], deadline: deadline(100)) }
    }

    @Test("Nothing listening: the connection is refused with the node named")
    func refused() throws {
        let node = NodeAddress(host: "127.0.0.1", port: 1)
        #expect {
            _ = try RedisConnection(to: node, at: SocketAddress(resolving: node), timeoutMilliseconds: 200, bufferCapacity: 4096)
        } throws: { error in
            guard case .connectionFailed(let name, _) = error as? RedisTierError else { return false }
            return name == "127.0.0.1:1"
        }
    }

    @Test("A host that does not resolve is named")
    func unresolvable() {
        #expect {
            _ = try SocketAddress(resolving: NodeAddress(host: "no-such-host.invalid", port: 1))
        } throws: { error in
            guard case .connectionFailed(_, let reason) = error as? RedisTierError else { return false }
            return reason.contains("no-such-host.invalid")
        }
    }
}
