import Testing

@testable import RedisTier

@Suite("ByteBuffer: a connection's send or receive buffer")
struct ByteBufferTests {
    @Test("Appended bytes are readable in order; consuming everything rewinds to the start")
    func appendConsume() {
        var buffer = ByteBuffer(capacity: 8)
        buffer.append(byte: 65)
        buffer.append(decimal: -1234)
        buffer.appendCRLF()
        #expect(Array(buffer.readable) == Array("A-1234\r\n".utf8))
        buffer.consume(3)
        #expect(buffer.readableCount == 5)
        buffer.consume(5)
        #expect(buffer.readableCount == 0 && buffer.writableCount == buffer.capacity)
        buffer.checkInvariants()
    }

    @Test("Reserving room moves pending bytes to the front before it grows")
    func reserveCompactsFirst() {
        var buffer = ByteBuffer(capacity: 16)
        let bytes: [UInt8] = Array(0..<12)
        bytes.withUnsafeBytes { buffer.append($0) }
        buffer.consume(10)
        let base = buffer.base
        buffer.reserve(12)
        #expect(buffer.base == base && buffer.capacity == 16)
        #expect(Array(buffer.readable) == [10, 11])
        buffer.reserve(100)
        #expect(buffer.capacity >= 102)
        #expect(Array(buffer.readable) == [10, 11])
        buffer.checkInvariants()
    }

    @Test("Decimal numbers of every width come out right", arguments: [0, 9, 10, 99, 100, Int.max, Int.min + 1])
    func decimals(value: Int) {
        var buffer = ByteBuffer(capacity: 4)
        buffer.append(decimal: value)
        #expect(String(decoding: buffer.readable, as: UTF8.self) == String(value))
    }

    @Test("Clearing drops everything pending")
    func clear() {
        var buffer = ByteBuffer(capacity: 4)
        buffer.append(byte: 1)
        buffer.clear()
        #expect(buffer.readableCount == 0)
    }
}
