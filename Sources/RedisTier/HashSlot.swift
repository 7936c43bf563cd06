/// Redis Cluster's key-to-slot mapping: the CRC16 (XMODEM: polynomial 0x1021, initial value 0,
/// no reflection) of the key, or of its hash tag, modulo 16384.
///
/// A hash tag is the part between the first `{` and the first `}` after it, when that part is
/// not empty: `{user1000}.following` and `{user1000}.followers` share a slot. The tier's keys
/// have no braces, so they spread over every slot and every master.
///
/// **Memory.** The 256-entry table is computed once, on first use, into one buffer that lives
/// for the rest of the process and is never written again.
public enum HashSlot {
    /// The number of hash slots in a cluster.
    public static let count = 16384

    nonisolated(unsafe) private static let table: UnsafePointer<UInt16> = {
        let t = UnsafeMutablePointer<UInt16>.allocate(capacity: 256)
        for n in 0..<256 {
            var crc = UInt16(n) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
            t[n] = crc
        }
        return UnsafePointer(t)
    }()

    /// The CRC16 of `bytes`; pass a previous result as `crc` to continue over more bytes.
    @inline(__always)
    public static func crc16(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt16 = 0) -> UInt16 {
        let t = table
        var c = crc
        for byte in bytes { c = (c << 8) ^ t[Int(UInt8(truncatingIfNeeded: c >> 8) ^ byte)] }
        return c
    }

    /// The CRC16 of `byte` continuing `crc`.
    @inline(__always)
    static func crc16(byte: UInt8, continuing crc: UInt16) -> UInt16 {
        (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
    }

    /// The slot of the key `bytes`, hash tags included.
    public static func slot(of bytes: UnsafeRawBufferPointer) -> Int {
        if let open = bytes.firstIndex(of: UInt8(ascii: "{")),
            let close = bytes[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1
        {
            return Int(crc16(UnsafeRawBufferPointer(rebasing: bytes[(open + 1)..<close])) & 0x3FFF)
        }
        return Int(crc16(bytes) & 0x3FFF)
    }

    /// The slot of the key `key` (its UTF-8 bytes), hash tags included.
    public static func slot(of key: String) -> Int {
        var key = key
        return key.withUTF8 { slot(of: UnsafeRawBufferPointer($0)) }
    }
}
