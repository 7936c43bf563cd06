import Crypto
import Foundation

/// AES-256-GCM over one object with the associated data an ``EncryptedPageTier`` binds to it:
/// the object's tier slot and its write generation. The ciphertext is as long as the object;
/// the 16-byte tag is returned to the caller, who keeps it (in process memory, next to the
/// generation), so a block read back from another tier is checked against what this process
/// wrote, not against anything stored beside it.
///
/// ```swift
/// let cipher = PageCipher(key: try TierKey.random())
/// let tag = try cipher.seal(page, slot: 7, generation: 42, into: ciphertext)
/// try cipher.open(ciphertext, slot: 7, generation: 42, tag: tag, into: page)
/// ```
///
/// The generation is also the nonce (8 bytes little-endian, then 4 zero bytes): a key must never
/// seal two objects under one generation, which ``EncryptedPageTier`` guarantees by claiming its
/// key (``TierKey/claim()``) and counting generations up from a random start.
///
/// Sealing and opening allocate (swift-crypto's `Data` and its key copy): never call them from a
/// signal handler.
public struct PageCipher: Sendable {
    /// The key.
    public let key: TierKey

    /// A cipher with `key`.
    public init(key: TierKey) { self.key = key }

    /// The tag's length in bytes.
    public static let tagByteCount = 16

    /// The authentication tag of a sealed object.
    public typealias Tag = (UInt64, UInt64)

    /// The nonce of `generation`: the generation, then zeros (12 bytes).
    static func nonce(_ generation: UInt64) -> AES.GCM.Nonce {
        withUnsafeBytes(of: (generation.littleEndian, UInt32(0))) { bytes in
            // Cannot fail: 12 bytes is the size AES-GCM wants.
            try! AES.GCM.Nonce(data: UnsafeRawBufferPointer(rebasing: bytes[0..<12]))
        }
    }

    /// The associated data of an object: its slot and generation, 16 bytes little-endian.
    static func associatedData(slot: Int, generation: UInt64) -> (UInt64, UInt64) {
        (UInt64(slot).littleEndian, generation.littleEndian)
    }

    /// Encrypts `plaintext` as the object of `slot` written at `generation` into `ciphertext`
    /// (at least as long as the plaintext) and returns the tag.
    ///
    /// - Throws: ``TierCryptoError/cipherFailed(_:)`` when swift-crypto refuses (it does not for
    ///   a valid key and nonce) or `ciphertext` is too small.
    public func seal(
        _ plaintext: UnsafeRawBufferPointer, slot: Int, generation: UInt64, into ciphertext: UnsafeMutableRawBufferPointer
    ) throws(TierCryptoError) -> Tag {
        guard ciphertext.count >= plaintext.count else {
            throw .cipherFailed("a \(ciphertext.count)-byte buffer cannot hold \(plaintext.count) bytes of ciphertext")
        }
        let aad = Self.associatedData(slot: slot, generation: generation)
        let box: AES.GCM.SealedBox
        do {
            box = try key.withSymmetricKey { symmetric in
                try withUnsafeBytes(of: aad) {
                    try AES.GCM.seal(plaintext, using: symmetric, nonce: Self.nonce(generation), authenticating: $0)
                }
            }
        } catch {
            throw .cipherFailed("AES-GCM seal: \(error)")
        }
        box.ciphertext.withUnsafeBytes { bytes in
            if let base = bytes.baseAddress, bytes.count > 0 { ciphertext.baseAddress!.copyMemory(from: base, byteCount: bytes.count) }
        }
        var tag: Tag = (0, 0)
        withUnsafeMutableBytes(of: &tag) { $0.copyBytes(from: box.tag) }
        return tag
    }

    /// Checks `ciphertext` against `tag` as the object of `slot` written at `generation`, and
    /// decrypts it into `plaintext` (at least as long as the ciphertext; it may be the same
    /// memory). Nothing is written to `plaintext` when authentication fails.
    ///
    /// - Throws: ``TierCryptoError/authenticationFailed`` when the bytes, the slot, the
    ///   generation or the key differ from the ones that sealed them;
    ///   ``TierCryptoError/cipherFailed(_:)`` for a buffer too small.
    public func open(
        _ ciphertext: UnsafeRawBufferPointer, slot: Int, generation: UInt64, tag: Tag,
        into plaintext: UnsafeMutableRawBufferPointer
    ) throws(TierCryptoError) {
        guard plaintext.count >= ciphertext.count else {
            throw .cipherFailed("a \(plaintext.count)-byte buffer cannot hold \(ciphertext.count) bytes of plaintext")
        }
        let aad = Self.associatedData(slot: slot, generation: generation)
        let opened: Data
        do {
            opened = try withUnsafeBytes(of: tag) { tagBytes in
                let box = try AES.GCM.SealedBox(nonce: Self.nonce(generation), ciphertext: ciphertext, tag: tagBytes)
                return try key.withSymmetricKey { symmetric in
                    try withUnsafeBytes(of: aad) { try AES.GCM.open(box, using: symmetric, authenticating: $0) }
                }
            }
        } catch {
            throw .authenticationFailed
        }
        guard opened.count == ciphertext.count else {
            throw .cipherFailed("decrypted \(opened.count) bytes from \(ciphertext.count)")
        }
        opened.withUnsafeBytes { bytes in
            if let base = bytes.baseAddress, bytes.count > 0 { plaintext.baseAddress!.copyMemory(from: base, byteCount: bytes.count) }
        }
    }
}
