import Synchronization
import SystemSupport

/// CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78), the checksum of iSCSI,
/// ext4 metadata and btrfs: `CRC32C.checksum("123456789")` is `0xE3069283`.
///
/// ``checksum(_:continuing:)-(UnsafeRawBufferPointer,_)`` uses slicing-by-8 (eight 256-entry tables, eight bytes per step);
/// ``checksumBytewise(_:continuing:)`` is the one-table reference it is tested against.
///
/// **Memory.** The tables (8 x 256 x 4 bytes) are computed once, on first use, into one buffer
/// that lives for the rest of the process and is never written again.
public enum CRC32C {
    /// The reflected Castagnoli polynomial.
    public static let polynomial: UInt32 = 0x82F6_3B78

    /// Table `k` at `tables[256 * k ..< 256 * (k + 1)]`: table 0 is the byte table, table `k`
    /// advances a byte's CRC through `k` more zero bytes.
    nonisolated(unsafe) private static let tables: UnsafePointer<UInt32> = {
        let t = UnsafeMutablePointer<UInt32>.allocate(capacity: 8 * 256)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ polynomial : c >> 1 }
            t[n] = c
        }
        for k in 1..<8 {
            for n in 0..<256 {
                let previous = t[256 * (k - 1) + n]
                t[256 * k + n] = (previous >> 8) ^ t[Int(previous & 0xFF)]
            }
        }
        return UnsafePointer(t)
    }()

    /// The CRC-32C of `bytes`; pass a previous result as `crc` to continue over more bytes.
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress else { return crc }
        return update(~crc, base, bytes.count) ^ 0xFFFF_FFFF
    }

    /// The CRC-32C of `bytes` (any byte sequence; copies into contiguous memory if needed).
    public static func checksum<Bytes: Sequence>(_ bytes: Bytes, continuing crc: UInt32 = 0) -> UInt32
    where Bytes.Element == UInt8 {
        let array = Array(bytes)
        return array.withUnsafeBytes { checksum($0, continuing: crc) }
    }

    /// The reference: one table, one byte per step. Same results as ``checksum(_:continuing:)-(UnsafeRawBufferPointer,_)``.
    public static func checksumBytewise(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        let t = tables
        var c = ~crc
        for byte in bytes { c = (c >> 8) ^ t[Int((c ^ UInt32(byte)) & 0xFF)] }
        return ~c
    }

    /// Slicing-by-8 over `count` bytes at `base`, on the inverted CRC `c`.
    @usableFromInline
    static func update(_ c: UInt32, _ base: UnsafeRawPointer, _ count: Int) -> UInt32 {
        let t = tables
        var c = c
        var p = base
        var remaining = count
        // Bytes up to an 8-byte boundary, so the loads below are aligned.
        while remaining > 0 && Int(bitPattern: p) & 7 != 0 {
            c = (c >> 8) ^ t[Int((c ^ UInt32(p.load(as: UInt8.self))) & 0xFF)]
            p += 1
            remaining -= 1
        }
        while remaining >= 8 {
            let word = UInt64(littleEndian: p.load(as: UInt64.self))
            let low = UInt32(truncatingIfNeeded: word) ^ c
            let high = UInt32(truncatingIfNeeded: word >> 32)
            c = t[7 * 256 + Int(low & 0xFF)] ^ t[6 * 256 + Int((low >> 8) & 0xFF)]
                ^ t[5 * 256 + Int((low >> 16) & 0xFF)] ^ t[4 * 256 + Int(low >> 24)]
                ^ t[3 * 256 + Int(high & 0xFF)] ^ t[2 * 256 + Int((high >> 8) & 0xFF)]
                ^ t[1 * 256 + Int((high >> 16) & 0xFF)] ^ t[Int(high >> 24)]
            p += 8
            remaining -= 8
        }
        while remaining > 0 {
            c = (c >> 8) ^ t[Int((c ^ UInt32(p.load(as: UInt8.self))) & 0xFF)]
            p += 1
            remaining -= 1
        }
        return c
    }
}

/// Optional per-page checksums for pages kept in a file: one CRC-32C per block, recorded when a
/// page is written and verified when it is read back, so a torn write or a flipped bit on disk
/// is reported as ``PageStoreError/corrupt(slot:reason:)`` instead of handed out.
///
/// **Memory.** One atomic 64-bit word per block (bit 32 = a checksum is recorded, low 32 bits =
/// the CRC), in an `AtomicArray` allocated in `init` and freed with this object, its only owner.
///
/// **Thread safety.** Each entry is one atomic word, so entries can be recorded, verified and
/// cleared from any thread. The caller serializes operations on one block (the block's owner
/// holds the slot's lock), as it must for the page data anyway.
public final class PageChecksums: Sendable {
    /// How many blocks the table covers.
    public let count: Int
    private let entries: AtomicArray<UInt64>
    private static let valid: UInt64 = 1 << 32

    /// A table of `count` blocks, none recorded.
    public init(count: Int) {
        precondition(count >= 0, "a checksum table needs a block count of 0 or more")
        self.count = count
        entries = AtomicArray(count: count, repeating: 0)
    }

    /// Memory the table holds.
    public var bytes: Int { entries.bytes }

    /// Records the checksum of `page`, just written to `block`. Out-of-range blocks are ignored.
    @inline(__always)
    public func record(_ page: UnsafeRawBufferPointer, for block: Int) {
        guard block >= 0 && block < count else { return }
        entries[block].store(Self.valid | UInt64(CRC32C.checksum(page)), ordering: .relaxed)
    }

    /// Forgets `block`'s checksum (the block was freed).
    @inline(__always)
    public func clear(_ block: Int) {
        guard block >= 0 && block < count else { return }
        entries[block].store(0, ordering: .relaxed)
    }

    /// The recorded checksum of `block`, or `nil` when none is recorded.
    public func checksum(of block: Int) -> UInt32? {
        guard block >= 0 && block < count else { return nil }
        let entry = entries[block].load(ordering: .relaxed)
        return entry & Self.valid != 0 ? UInt32(truncatingIfNeeded: entry) : nil
    }

    /// Verifies `page`, just read from `block`, against the recorded checksum (a block with no
    /// record passes).
    ///
    /// - Parameters:
    ///   - page: the page read.
    ///   - block: the block it was read from.
    ///   - slot: the swap slot to name in the error.
    /// - Throws: ``PageStoreError/corrupt(slot:reason:)`` when the checksums differ.
    @inline(__always)
    public func verify(_ page: UnsafeRawBufferPointer, for block: Int, slot: Int) throws(PageStoreError) {
        guard let expected = checksum(of: block) else { return }
        let actual = CRC32C.checksum(page)
        guard actual == expected else {
            throw .corrupt(
                slot: slot,
                reason: "block \(block) of the backing file has CRC32C \(hex(actual)), \(hex(expected)) was written: the file was changed or the disk returned bad data")
        }
    }

    private func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16, uppercase: true) }
}
