/// A table of fixed-size records that look like a program's heap objects, generated from the
/// record index and its version alone, so any record's expected bytes can be recomputed.
///
/// Record layout (128 bytes, 32 per 4 KiB page): id, a vtable-like pointer, a next pointer,
/// balance, version, flags, timestamp, a 32-byte name, a 32-byte city, padding, and a
/// checksum of the rest (FNV-1a). Every 16th page is a freed block: all zero.
public struct DemoTable: Sendable {
    /// Bytes per record.
    public static let recordSize = 128
    /// Records per 4 KiB page.
    public static let recordsPerPage = 4096 / recordSize
    /// One page in this many is freed (all zero).
    public static let freedPageEvery = 16

    /// Pages in the table.
    public let pageCount: Int
    /// A table of `pageCount` pages.
    public init(pageCount: Int) { self.pageCount = pageCount }

    /// Records in the table (freed pages included).
    public var recordCount: Int { pageCount * Self.recordsPerPage }

    private static let words = [
        "amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "harbor", "island", "juniper",
        "kestrel", "lagoon", "meadow", "nectar", "orchid", "prairie", "quartz", "raven", "sierra", "tundra",
        "umber", "valley", "willow", "xenon", "yarrow", "zephyr", "aspen", "basalt", "cobalt", "dune",
    ]
    private static let cities = [
        "Lisbon", "Osaka", "Nairobi", "Toronto", "Oslo", "Santiago", "Hanoi", "Dublin", "Tbilisi", "Perth",
        "Quito", "Reykjavik", "Seville", "Tallinn", "Utrecht", "Valparaiso", "Windhoek", "Xalapa", "Yerevan", "Zagreb",
    ]

    /// Whether page `page` is a freed (all-zero) block.
    public static func isFreed(page: Int) -> Bool { page % freedPageEvery == freedPageEvery - 1 }

    /// Writes record `index` at `version` into `destination` (128 bytes).
    public static func writeRecord(_ index: Int, version: UInt32, into destination: UnsafeMutableRawPointer) {
        let h = SplitMix64.mix(UInt64(index))
        destination.initializeMemory(as: UInt8.self, repeating: 0, count: recordSize)
        destination.storeBytes(of: UInt64(index), toByteOffset: 0, as: UInt64.self)
        destination.storeBytes(of: 0x0000_5555_5555_4000 &+ (h % 8) &* 0x40, toByteOffset: 8, as: UInt64.self)
        destination.storeBytes(of: 0x0000_7F3A_1000_0000 &+ UInt64(index + 1) &* 128, toByteOffset: 16, as: UInt64.self)
        let balance = Int64(h % 1_000_000) * 100 + Int64(version) * 7
        destination.storeBytes(of: balance, toByteOffset: 24, as: Int64.self)
        destination.storeBytes(of: version, toByteOffset: 32, as: UInt32.self)
        destination.storeBytes(of: UInt32(h >> 60), toByteOffset: 36, as: UInt32.self)
        destination.storeBytes(of: 1_700_000_000_000 &+ UInt64(index) &* 13 &+ UInt64(version) &* 1000, toByteOffset: 40, as: UInt64.self)
        // name: "<word>_<word>_<index>", city: a city name; NUL-padded, at most 31 bytes.
        var at = copyBytes(wordBytes[Int(h >> 8) % wordBytes.count], to: destination + 48, at: 0, limit: 31)
        at = copyBytes(underscore, to: destination + 48, at: at, limit: 31)
        at = copyBytes(wordBytes[Int(h >> 16) % wordBytes.count], to: destination + 48, at: at, limit: 31)
        at = copyBytes(underscore, to: destination + 48, at: at, limit: 31)
        copyDecimal(index, to: destination + 48, at: at, limit: 31)
        _ = copyBytes(cityBytes[Int(h >> 24) % cityBytes.count], to: destination + 80, at: 0, limit: 31)
        destination.storeBytes(of: checksum(UnsafeRawPointer(destination)), toByteOffset: 124, as: UInt32.self)
    }

    /// A checksum of the first 124 bytes of a record: FNV-1a style over 15 words and a half.
    public static func checksum(_ record: UnsafeRawPointer) -> UInt32 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for i in 0..<15 {
            hash = (hash ^ record.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) &* 0x0000_0100_0000_01B3
        }
        hash = (hash ^ UInt64(record.loadUnaligned(fromByteOffset: 120, as: UInt32.self))) &* 0x0000_0100_0000_01B3
        return UInt32(truncatingIfNeeded: hash ^ (hash >> 32))
    }

    private static let wordBytes: [[UInt8]] = words.map { Array($0.utf8) }
    private static let cityBytes: [[UInt8]] = cities.map { Array($0.utf8) }
    private static let underscore: [UInt8] = [UInt8(ascii: "_")]

    /// Copies `bytes` to `destination[at...]`, stopping at `limit`; returns the new end.
    private static func copyBytes(_ bytes: [UInt8], to destination: UnsafeMutableRawPointer, at: Int, limit: Int) -> Int {
        var i = at
        for byte in bytes where i < limit {
            destination.storeBytes(of: byte, toByteOffset: i, as: UInt8.self)
            i += 1
        }
        return i
    }

    /// Writes `value` in decimal to `destination[at...]`, stopping at `limit`.
    private static func copyDecimal(_ value: Int, to destination: UnsafeMutableRawPointer, at: Int, limit: Int) {
        var digits = 1
        var v = value / 10
        while v > 0 { digits += 1; v /= 10 }
        var rest = value
        var i = at + digits - 1
        while i >= at {
            if i < limit { destination.storeBytes(of: UInt8(ascii: "0") + UInt8(rest % 10), toByteOffset: i, as: UInt8.self) }
            rest /= 10
            i -= 1
        }
    }

    /// Writes page `page` (all its records at `versions(record)`, or zeros when freed).
    public func writePage(_ page: Int, into destination: UnsafeMutableRawPointer, version: (Int) -> UInt32 = { _ in 0 }) {
        if Self.isFreed(page: page) {
            destination.initializeMemory(as: UInt8.self, repeating: 0, count: 4096)
            return
        }
        for r in 0..<Self.recordsPerPage {
            let index = page * Self.recordsPerPage + r
            Self.writeRecord(index, version: version(index), into: destination + r * Self.recordSize)
        }
    }
}
