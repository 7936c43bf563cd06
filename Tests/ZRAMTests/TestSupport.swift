import Foundation
import PageCodecs
import PageStore
import Testing

@testable import ZRAM

/// A codec whose output size the tests choose: it keeps a page's bytes up to its last nonzero
/// byte, behind a 2-byte length, plus `padding` filler bytes. A page whose first `k` bytes are
/// nonzero and the rest zero compresses to exactly `k + 2 + padding` bytes.
final class PrefixCodec: PageCodec {
    let padding: Int
    init(padding: Int = 0) { self.padding = padding }
    var name: String { "prefix+\(padding)" }
    func maxCompressedSize(for sourceSize: Int) -> Int { sourceSize + 2 + padding }

    func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        var length = source.count
        while length > 0 && source[length - 1] == 0 { length -= 1 }
        let total = length + 2 + padding
        guard total <= destination.count else { return nil }
        destination.storeBytes(of: UInt16(length).littleEndian, toByteOffset: 0, as: UInt16.self)
        if length > 0 { (destination.baseAddress! + 2).copyMemory(from: source.baseAddress!, byteCount: length) }
        for i in 0..<padding { destination[2 + length + i] = 0xA5 }
        return total
    }

    func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
        guard source.count >= 2 else { throw .truncatedInput(offset: 0) }
        let length = Int(UInt16(littleEndian: source.loadUnaligned(as: UInt16.self)))
        guard source.count == length + 2 + padding else { throw .sizeMismatch(expected: length + 2 + padding, actual: source.count) }
        guard length <= destination.count else { throw .outputOverflow(capacity: destination.count) }
        if length > 0 { destination.baseAddress!.copyMemory(from: source.baseAddress! + 2, byteCount: length) }
        (destination.baseAddress! + length).initializeMemory(as: UInt8.self, repeating: 0, count: destination.count - length)
        return destination.count
    }
}

/// A page-sized buffer owned by a test.
final class PageBuffer {
    let bytes: UnsafeMutableRawBufferPointer
    init(size: Int = 4096) {
        bytes = .allocate(byteCount: size, alignment: 64)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
    }
    deinit { bytes.deallocate() }
    var raw: UnsafeRawBufferPointer { UnsafeRawBufferPointer(bytes) }

    /// First `prefix` bytes nonzero (derived from `seed`), the rest zero: PrefixCodec makes it
    /// `prefix + 2` bytes.
    func fillPrefix(_ prefix: Int, seed: UInt64) {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        for i in 0..<bytes.count {
            if i < prefix {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                bytes[i] = UInt8(truncatingIfNeeded: state) | 1
            } else {
                bytes[i] = 0
            }
        }
    }

    /// Every byte pseudo-random (incompressible for real codecs).
    func fillRandom(seed: UInt64) {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        for i in 0..<bytes.count {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            bytes[i] = UInt8(truncatingIfNeeded: state >> 11)
        }
    }

    /// Text-like content that real codecs compress well.
    func fillText(seed: UInt64) {
        let words = ["swap", "page", "zram", "slot", "memory", "compressed", "kernel", "the", "of", "and", "pool"]
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var i = 0
        while i < bytes.count {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            for byte in words[Int(state % UInt64(words.count))].utf8 where i < bytes.count {
                bytes[i] = byte
                i += 1
            }
            if i < bytes.count { bytes[i] = 0x20; i += 1 }
        }
    }

    /// The same word repeated.
    func fillWord(_ word: UInt64) { SameFilled.fill(bytes, with: word) }

    func equals(_ other: PageBuffer) -> Bool { memcmp(bytes.baseAddress!, other.bytes.baseAddress!, bytes.count) == 0 }
}

/// A device whose codecs are PrefixCodecs (exact, predictable sizes).
func makePrefixDevice(
    slots: Int, pageSize: Int = 4096, memLimit: Int = 0, padding: Int = 0, secondaryPadding: Int? = nil
) throws -> ZramDevice {
    let configuration = ZramConfiguration(disksize: slots * pageSize, pageSize: pageSize, memLimit: memLimit)
    if let secondaryPadding {
        return try ZramDevice(
            configuration,
            makeCodec: { () throws(CodecError) -> any PageCodec in PrefixCodec(padding: padding) },
            makeSecondaryCodec: { () throws(CodecError) -> any PageCodec in PrefixCodec(padding: secondaryPadding) })
    }
    return try ZramDevice(configuration, makeCodec: { () throws(CodecError) -> any PageCodec in PrefixCodec(padding: padding) })
}
