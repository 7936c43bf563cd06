import Testing

@testable import RedisTier

@Suite("RESP: commands encoded into the send buffer, replies located in the receive buffer")
struct RESPTests {
    private func encoded(_ build: (inout ByteBuffer) -> Void) -> String {
        var buffer = ByteBuffer(capacity: 16)
        build(&buffer)
        buffer.checkInvariants()
        return String(decoding: buffer.readable, as: UTF8.self)
    }

    private func parse(_ text: String) throws -> RESPReply? {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBytes { try RESPParser.parse($0) }
    }

    private func value(_ text: String) throws -> RESPValue? {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBytes { raw in try RESPParser.parse(raw).map { RESPParser.value(of: $0, in: raw) } }
    }

    @Test("A command is an array of bulk strings")
    func commandEncoding() {
        #expect(encoded { RESP.appendCommand(["SET", "k", "value"], to: &$0) } == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n")
        #expect(encoded { RESP.appendCommand([], to: &$0) } == "*0\r\n")
        #expect(encoded { RESP.appendBulk("GET", to: &$0) } == "$3\r\nGET\r\n")
    }

    @Test("Numbers are written in decimal as bulk strings", arguments: [0, 7, 10, 500, 123_456_789, -1, -42])
    func decimalBulk(value: Int) {
        let text = String(value)
        #expect(encoded { RESP.appendBulk(decimal: value, to: &$0) } == "$\(text.count)\r\n\(text)\r\n")
    }

    @Test("Each reply type is located with its payload and length")
    func replyTypes() throws {
        #expect(try parse("+OK\r\n") == RESPReply(kind: .simple, integer: 0, payloadOffset: 1, payloadLength: 2, totalLength: 5))
        #expect(try parse("-ERR bad\r\n")?.kind == .error)
        #expect(try parse(":-12\r\n") == RESPReply(kind: .integer, integer: -12, payloadOffset: 0, payloadLength: 0, totalLength: 6))
        #expect(try parse("$5\r\nhello\r\n") == RESPReply(kind: .bulk, integer: 5, payloadOffset: 4, payloadLength: 5, totalLength: 11))
        #expect(try parse("$0\r\n\r\n")?.payloadLength == 0)
        #expect(try parse("$-1\r\n")?.kind == .null)
        #expect(try parse("*-1\r\n")?.kind == .null)
        #expect(try parse("*2\r\n:1\r\n$1\r\nx\r\n") == RESPReply(kind: .array, integer: 2, payloadOffset: 4, payloadLength: 11, totalLength: 15))
    }

    @Test("A bulk string may hold CR and LF: its length decides")
    func binaryBulk() throws {
        #expect(try parse("$4\r\n\r\n\r\n\r\n")?.totalLength == 10)
    }

    @Test("An incomplete reply asks for more bytes", arguments: ["", "+O", "+OK\r", "$5\r\nhel", "$5\r\nhello\r", "*2\r\n:1\r\n", ":12"])
    func incomplete(text: String) throws {
        #expect(try parse(text) == nil)
    }

    @Test("Only the first reply is taken; the rest stays for the next", arguments: ["+OK\r\n:1\r\n"])
    func firstReplyOnly(text: String) throws {
        #expect(try parse(text)?.totalLength == 5)
    }

    @Test("Malformed replies are refused, not guessed at", arguments: [
        "?x\r\n", ":12a\r\n", "$-2\r\n", "$3\r\nabcde\r\n", "*-5\r\n", ":\r\n", ":99999999999999999999\r\n",
    ])
    func malformed(text: String) {
        #expect(throws: RESPMalformed.self) { try parse(text) }
    }

    @Test("Arrays nested deeper than the limit are refused")
    func depthLimit() {
        let deep = String(repeating: "*1\r\n", count: RESPParser.maxDepth + 1) + ":1\r\n"
        #expect(throws: RESPMalformed.self) { try parse(deep) }
    }

    @Test("Control-plane replies become values")
    func values() throws {
        #expect(try value("*3\r\n$3\r\nabc\r\n:5\r\n*1\r\n+OK\r\n") == .array([.bulk(Array("abc".utf8)), .integer(5), .array([.simple("OK")])]))
        let scan = try #require(try value("*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"))
        #expect(scan.elements?[0].text == "0")
        #expect(scan.elements?[1].elements?.compactMap(\.text) == ["a", "b"])
        #expect(try value("-MOVED 1 h:2\r\n")?.errorMessage == "MOVED 1 h:2")
        #expect(try value("$2\r\n42\r\n")?.integerValue == 42)
        #expect(try value("$-1\r\n") == .null)
    }
}
