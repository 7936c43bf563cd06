import FuzzChecks
import Testing

@Suite struct FuzzInputTests {
    @Test func readsLittleEndianValuesThenZerosPastTheEnd() {
        let bytes: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0x05]
        bytes.withUnsafeBytes { raw in
            var input = FuzzInput(raw)
            #expect(input.uint16() == 0x0201)
            #expect(input.byte() == 0x03)
            #expect(!input.isExhausted)
            #expect(input.uint32() == 0x0000_0504)
            #expect(input.isExhausted)
            #expect(input.byte() == 0)
            #expect(input.uint64() == 0)
        }
    }
}
