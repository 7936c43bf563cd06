import PageStore
import Testing

@testable import RedisTier

@Suite("TierNamespace and PageValue: how pages are named and stored")
struct TierNamespaceTests {
    @Test("Page keys are PREFIX:RUN:HANDLE in lowercase hex; the lease is PREFIX:RUN")
    func keyLayout() throws {
        let namespace = try TierNamespace(prefix: "uswap", run: "heap-1f-abc")
        #expect(namespace.key(for: PageTierHandle(rawValue: 0x2a)) == "uswap:heap-1f-abc:2a")
        #expect(namespace.leaseKey == "uswap:heap-1f-abc")
        #expect(namespace.keyPattern == "uswap:heap-1f-abc:*")
        #expect(TierNamespace.pagePattern(prefix: "uswap") == "uswap:*:*")
    }

    @Test("The data path's key bytes, slot and checksum agree with the key's text", arguments: [1, 0xF, 0x10, 0xDEAD_BEEF, UInt64.max >> 1])
    func dataPathMatchesText(handle: UInt64) throws {
        let namespace = try TierNamespace(prefix: "uswap", run: "r-1")
        let key = namespace.key(for: PageTierHandle(rawValue: handle))
        TierNamespace.withSuffix(handle) { suffix in
            #expect(String(decoding: suffix, as: UTF8.self) == String(handle, radix: 16))
            #expect(namespace.slot(suffix: suffix) == HashSlot.slot(of: key))
            var buffer = ByteBuffer(capacity: 8)
            namespace.appendKey(suffix: suffix, to: &buffer)
            #expect(String(decoding: buffer.readable, as: UTF8.self) == "$\(key.utf8.count)\r\n\(key)\r\n")
            let object: [UInt8] = [1, 2, 3]
            let expected = CRC32C.checksum(Array(key.utf8) + object)
            #expect(object.withUnsafeBytes { namespace.checksum(suffix: suffix, object: $0) } == expected)
        }
        #expect(namespace.slot(of: PageTierHandle(rawValue: handle)) == HashSlot.slot(of: key))
    }

    @Test("A run's keys spread over the slots: no hash tag")
    func keysSpread() throws {
        let namespace = try TierNamespace(prefix: "uswap", run: "r-1")
        let slots = Set((1...3000).map { namespace.slot(of: PageTierHandle(rawValue: UInt64($0))) })
        #expect(slots.count > 2500)
        // Three equal slot ranges, as a 3-master cluster has: each gets at least 30%.
        for third in 0..<3 {
            let share = (1...3000).filter { namespace.slot(of: PageTierHandle(rawValue: UInt64($0))) * 3 / HashSlot.count == third }.count
            #expect(share >= 900)
        }
    }

    @Test("Unique namespaces differ and carry the label", arguments: ["region", "heap"])
    func unique(label: String) throws {
        let a = try TierNamespace.unique(label: label)
        let b = try TierNamespace.unique(label: label)
        #expect(a != b)
        #expect(a.run.hasPrefix(label + "-"))
    }

    @Test("Braces, colons, globs and empty parts are refused", arguments: ["", "a{b}", "a:b", "a*", "a?", "a[b]", "a b", String(repeating: "x", count: 101)])
    func refusesBadParts(part: String) {
        #expect(throws: RedisTierError.self) { _ = try TierNamespace(prefix: part, run: "r") }
        #expect(throws: RedisTierError.self) { _ = try TierNamespace(prefix: "uswap", run: part) }
        #expect(throws: RedisTierError.self) { _ = try TierNamespace.unique(label: part) }
    }

    @Test("The run of a page key, and nil for keys of other shapes")
    func runOfKey() {
        #expect(TierNamespace.run(ofPageKey: "uswap:r-1:2a", prefix: "uswap") == "r-1")
        #expect(TierNamespace.run(ofPageKey: "uswap:r-1", prefix: "uswap") == nil)
        #expect(TierNamespace.run(ofPageKey: "other:r-1:2a", prefix: "uswap") == nil)
        #expect(TierNamespace.run(ofPageKey: "uswap:r-1:2a:x", prefix: "uswap") == nil)
        #expect(TierNamespace.run(ofPageKey: "uswap::2a", prefix: "uswap") == nil)
    }

    @Test("A page value is the header (mark, version, checksum) then the object")
    func pageValue() {
        var buffer = ByteBuffer(capacity: 8)
        PageValue.appendHeader(checksum: 0x1234_5678, to: &buffer)
        let object: [UInt8] = [9, 8, 7]
        object.withUnsafeBytes { buffer.append($0) }
        let value = Array(buffer.readable)
        #expect(value.count == PageValue.headerSize + 3)
        value.withUnsafeBytes { raw in
            let parsed = PageValue.parse(raw)
            #expect(parsed?.checksum == 0x1234_5678)
            #expect(parsed.map { Array($0.object) } == object)
        }
        for bad in [[UInt8](), Array(value[0..<7]), [0x00] + Array(value[1...]), [0xC5, 2] + Array(value[2...])] {
            #expect(bad.withUnsafeBytes { PageValue.parse($0) } == nil)
        }
    }
}
