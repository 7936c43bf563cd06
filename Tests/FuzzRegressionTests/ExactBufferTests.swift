import FuzzChecks
import Testing

@Suite struct ExactBufferTests {
    @Test func holdsExactlyItsBytes() {
        let source: [UInt8] = [1, 2, 3, 4]
        source.withUnsafeBytes { raw in
            let buffer = ExactBuffer(copying: raw)
            #expect(buffer.count == 4)
            #expect(Array(buffer.readOnly) == source)
            let three = buffer.hasPrefix(3, equalTo: raw)
            let five = buffer.hasPrefix(5, equalTo: raw)
            #expect(three && !five)
            buffer.checkInvariants()
        }
        let filled = ExactBuffer(count: 3, fill: 0xA5)
        #expect(Array(filled.readOnly) == [0xA5, 0xA5, 0xA5])
        let empty = ExactBuffer(count: 0)
        #expect(empty.count == 0 && empty.bytes.baseAddress != nil)
    }
}
