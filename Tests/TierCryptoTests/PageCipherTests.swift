import Testing

@testable import TierCrypto

@Suite("PageCipher: AES-256-GCM whose associated data binds the slot and the generation")
struct PageCipherTests {
    private let page: [UInt8] = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) }

    private func seal(_ cipher: PageCipher, slot: Int, generation: UInt64) throws -> ([UInt8], PageCipher.Tag) {
        var ciphertext = [UInt8](repeating: 0, count: page.count)
        let tag = try page.withUnsafeBytes { plain in
            try ciphertext.withUnsafeMutableBytes { try cipher.seal(plain, slot: slot, generation: generation, into: $0) }
        }
        return (ciphertext, tag)
    }

    private func open(_ cipher: PageCipher, _ ciphertext: [UInt8], slot: Int, generation: UInt64, tag: PageCipher.Tag) throws -> [UInt8] {
        var plain = [UInt8](repeating: 0xEE, count: ciphertext.count)
        try ciphertext.withUnsafeBytes { c in
            try plain.withUnsafeMutableBytes { try cipher.open(c, slot: slot, generation: generation, tag: tag, into: $0) }
        }
        return plain
    }

    @Test("What is sealed opens with the same key, slot and generation")
    func roundTrip() throws {
        let cipher = PageCipher(key: try TierKey.random())
        let (ciphertext, tag) = try seal(cipher, slot: 3, generation: 10)
        #expect(ciphertext != page)
        #expect(try open(cipher, ciphertext, slot: 3, generation: 10, tag: tag) == page)
    }

    @Test("A wrong key fails authentication and writes nothing")
    func wrongKeyFails() throws {
        let (ciphertext, tag) = try seal(PageCipher(key: try TierKey.random()), slot: 3, generation: 10)
        let other = PageCipher(key: try TierKey.random())
        var plain = [UInt8](repeating: 0xEE, count: ciphertext.count)
        #expect(throws: TierCryptoError.authenticationFailed) {
            try ciphertext.withUnsafeBytes { c in
                try plain.withUnsafeMutableBytes { try other.open(c, slot: 3, generation: 10, tag: tag, into: $0) }
            }
        }
        #expect(plain.allSatisfy { $0 == 0xEE })
    }

    @Test("Another slot, another generation or another tag fails authentication", arguments: [(4, UInt64(10), false), (3, UInt64(11), false), (3, UInt64(10), true)])
    func boundDataFails(slot: Int, generation: UInt64, flipTag: Bool) throws {
        let cipher = PageCipher(key: try TierKey.random())
        var (ciphertext, tag) = try seal(cipher, slot: 3, generation: 10)
        if flipTag { tag.1 ^= 1 }
        #expect(throws: TierCryptoError.authenticationFailed) {
            try open(cipher, ciphertext, slot: slot, generation: generation, tag: tag)
        }
        ciphertext[0] ^= 0  // unchanged bytes: only the bound data differs
    }

    @Test("A buffer too small for the ciphertext is refused with a reason")
    func smallBufferRefused() throws {
        let cipher = PageCipher(key: try TierKey.random())
        var small = [UInt8](repeating: 0, count: 10)
        #expect(throws: TierCryptoError.self) {
            _ = try page.withUnsafeBytes { p in try small.withUnsafeMutableBytes { try cipher.seal(p, slot: 0, generation: 1, into: $0) } }
        }
    }
}
