import PageStore
import SystemSupport

/// A run's keys in the cluster: `PREFIX:RUN:HANDLE` for pages (the handle in lowercase
/// hexadecimal) and `PREFIX:RUN` for the run's lease.
///
/// `RUN` is unique to one region of one process (``unique(prefix:label:)``: a label, the process
/// id and 64 random bits), so regions, processes and machines share a cluster without meeting.
/// No part may contain braces: a key's hash slot is the CRC16 of the whole key, so a run's pages
/// spread over every slot and every master. No part may contain `:` or glob characters either,
/// so `PREFIX:*:*` finds every run's pages and `PREFIX:RUN:*` one run's.
public struct TierNamespace: Sendable, Hashable, CustomStringConvertible {
    /// The first part of every key (`uswap`).
    public let prefix: String
    /// The run's part: unique to the region and the run.
    public let run: String

    /// `PREFIX:RUN:` as bytes, the start of every page key.
    let keyHead: [UInt8]
    /// The CRC16 (hash slot) state after ``keyHead``.
    let headSlotCRC: UInt16
    /// The CRC-32C (checksum) state after ``keyHead``.
    let headChecksum: UInt32

    /// The namespace `prefix:run`.
    ///
    /// - Throws: ``RedisTierError/invalidConfiguration(_:)`` when either part is empty, longer
    ///   than 100 characters, or holds anything but letters, digits, `-`, `_` and `.`.
    public init(prefix: String, run: String) throws(RedisTierError) {
        try Self.validate(prefix, "key prefix")
        try Self.validate(run, "run name")
        self.prefix = prefix
        self.run = run
        keyHead = Array("\(prefix):\(run):".utf8)
        headSlotCRC = keyHead.withUnsafeBytes { HashSlot.crc16($0) }
        headChecksum = keyHead.withUnsafeBytes { CRC32C.checksum($0) }
    }

    /// A namespace no other run has: `LABEL-PID-RANDOM` under `prefix` (64 random bits from the
    /// system's generator).
    ///
    /// - Throws: ``RedisTierError/invalidConfiguration(_:)`` for a bad prefix or label.
    public static func unique(prefix: String = "uswap", label: String = "region") throws(RedisTierError) -> TierNamespace {
        try validate(label, "region label")
        var generator = SystemRandomNumberGenerator()
        let random = String(generator.next() as UInt64, radix: 16)
        let pid = String(getpid(), radix: 16)
        return try TierNamespace(prefix: prefix, run: "\(label)-\(pid)-\(random)")
    }

    private static func validate(_ part: String, _ what: String) throws(RedisTierError) {
        let allowed = part.utf8.allSatisfy { byte in
            (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
        guard !part.isEmpty && part.utf8.count <= 100 && allowed else {
            throw .invalidConfiguration(
                "the \(what) '\(part)' must be 1 to 100 letters, digits, '-', '_' or '.' (no braces, colons or glob characters)")
        }
    }

    /// The lease key, `PREFIX:RUN`: present while the run is alive.
    public var leaseKey: String { "\(prefix):\(run)" }

    /// The glob that matches this run's page keys, `PREFIX:RUN:*`.
    public var keyPattern: String { "\(prefix):\(run):*" }

    /// The glob that matches every run's page keys under `prefix`, `PREFIX:*:*`.
    public static func pagePattern(prefix: String) -> String { "\(prefix):*:*" }

    /// The run a page key under `prefix` belongs to, or `nil` for a key of another shape.
    public static func run(ofPageKey key: String, prefix: String) -> String? {
        let parts = key.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == prefix, !parts[1].isEmpty, !parts[2].isEmpty else { return nil }
        return String(parts[1])
    }

    /// The key of the page stored under `handle`.
    public func key(for handle: PageTierHandle) -> String {
        "\(prefix):\(run):\(String(handle.rawValue, radix: 16))"
    }

    /// `PREFIX:RUN`.
    public var description: String { leaseKey }

    // MARK: The data path (no allocation)

    /// Runs `body` with the key suffix of `handle` (its lowercase hex digits) in stack memory.
    @inline(__always)
    static func withSuffix<R, E: Error>(_ handle: UInt64, _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var digits: (UInt64, UInt64) = (0, 0)
        return try withUnsafeMutableBytes(of: &digits) { (raw: UnsafeMutableRawBufferPointer) throws(E) -> R in
            let count = max(1, (64 - handle.leadingZeroBitCount + 3) / 4)
            var value = handle
            for i in stride(from: count - 1, through: 0, by: -1) {
                let nibble = UInt8(truncatingIfNeeded: value & 0xF)
                raw[i] = nibble < 10 ? 48 + nibble : 87 + nibble
                value >>= 4
            }
            return try body(UnsafeRawBufferPointer(rebasing: raw[0..<count]))
        }
    }

    /// The hash slot of the key whose suffix is `suffix`.
    @inline(__always)
    func slot(suffix: UnsafeRawBufferPointer) -> Int {
        Int(HashSlot.crc16(suffix, continuing: headSlotCRC) & 0x3FFF)
    }

    /// The hash slot of the key of `handle`.
    func slot(of handle: PageTierHandle) -> Int {
        Self.withSuffix(handle.rawValue) { slot(suffix: $0) }
    }

    /// Appends the key with suffix `suffix` to `buffer` as a bulk string.
    @inline(__always)
    func appendKey(suffix: UnsafeRawBufferPointer, to buffer: inout ByteBuffer) {
        RESP.appendBulkHeader(keyHead.count + suffix.count, to: &buffer)
        keyHead.withUnsafeBytes { buffer.append($0) }
        buffer.append(suffix)
        buffer.appendCRLF()
    }

    /// The checksum of the key with suffix `suffix` followed by `object`.
    @inline(__always)
    func checksum(suffix: UnsafeRawBufferPointer, object: UnsafeRawBufferPointer) -> UInt32 {
        CRC32C.checksum(object, continuing: CRC32C.checksum(suffix, continuing: headChecksum))
    }
}

/// The value stored under a page's key: an 8-byte header, then the object.
///
/// | bytes | meaning |
/// | --- | --- |
/// | 0 | 0xC5, the tier's mark |
/// | 1 | format version, 1 |
/// | 2-3 | zero |
/// | 4-7 | CRC-32C (little-endian) of the key's bytes followed by the object |
///
/// The checksum covers the key, so a value copied under another key (or read from the wrong
/// node by a bug) fails too. Every read verifies it; a mismatch is a failed read.
enum PageValue {
    /// Bytes before the object.
    static let headerSize = 8
    static let mark: UInt8 = 0xC5
    static let version: UInt8 = 1

    /// Appends the header for an object whose checksum is `checksum`.
    @inline(__always)
    static func appendHeader(checksum: UInt32, to buffer: inout ByteBuffer) {
        buffer.reserve(headerSize)
        let p = buffer.writePointer
        p.storeBytes(of: mark, as: UInt8.self)
        p.storeBytes(of: version, toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: 0, toByteOffset: 2, as: UInt16.self)
        p.storeBytes(of: checksum.littleEndian, toByteOffset: 4, as: UInt32.self)
        buffer.didWrite(headerSize)
    }

    /// Checks `value`'s header and returns the checksum it records and the object, or why it is
    /// not a page value.
    static func parse(_ value: UnsafeRawBufferPointer) -> (checksum: UInt32, object: UnsafeRawBufferPointer)? {
        guard value.count >= headerSize, value[0] == mark, value[1] == version else { return nil }
        let checksum = UInt32(littleEndian: value.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        return (checksum, UnsafeRawBufferPointer(rebasing: value[headerSize...]))
    }
}
