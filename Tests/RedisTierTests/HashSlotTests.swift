import Testing

@testable import RedisTier

@Suite("HashSlot: Redis Cluster's key-to-slot mapping")
struct HashSlotTests {
    @Test("CRC16 is XMODEM's: 123456789 gives 0x31C3")
    func crc16CheckValue() {
        let bytes = Array("123456789".utf8)
        #expect(bytes.withUnsafeBytes { HashSlot.crc16($0) } == 0x31C3)
    }

    @Test("CRC16 continues across pieces as over the whole")
    func crc16Continues() {
        let whole = Array("uswap:region-1-abc:ff".utf8)
        let head = Array(whole[0..<13])
        let tail = Array(whole[13...])
        let continued = tail.withUnsafeBytes { t in head.withUnsafeBytes { HashSlot.crc16(t, continuing: HashSlot.crc16($0)) } }
        #expect(continued == whole.withUnsafeBytes { HashSlot.crc16($0) })
    }

    @Test("Slots match the ones Redis gives (CLUSTER KEYSLOT)", arguments: [
        ("foo", 12182), ("bar", 5061), ("123456789", 12739), ("", 0),
        ("{user1000}.following", 3443), ("{user1000}.followers", 3443), ("user1000", 3443),
    ])
    func knownSlots(key: String, slot: Int) {
        #expect(HashSlot.slot(of: key) == slot)
    }

    @Test("A hash tag is the first non-empty {...}; an empty one hashes the whole key", arguments: [
        ("foo{}{bar}", "foo{}{bar}"), ("foo{{bar}}zap", "{bar"), ("foo{bar}{zap}", "bar"), ("{}x", "{}x"), ("x{y", "x{y"),
    ])
    func hashTags(key: String, hashed: String) {
        let bytes = Array(hashed.utf8)
        let expected = Int(bytes.withUnsafeBytes { HashSlot.crc16($0) } & 0x3FFF)
        #expect(HashSlot.slot(of: key) == expected)
    }
}
