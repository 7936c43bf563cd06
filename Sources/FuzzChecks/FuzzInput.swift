/// The bytes libFuzzer hands a target, read front to back as the target's decisions: which
/// operation, which slot, how long. Every input is valid: past the end every read returns
/// zero (and ``isExhausted`` turns true), so a target decodes any byte string into some
/// sequence of operations and the fuzzer's mutations always mean something.
///
/// A view: the bytes belong to the caller (libFuzzer or a test) and must outlive the reader.
public struct FuzzInput {
    /// The whole input.
    public let bytes: UnsafeRawBufferPointer
    /// The next byte to read.
    public private(set) var position = 0

    /// A reader at the start of `bytes`.
    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Whether every byte has been read.
    public var isExhausted: Bool { position >= bytes.count }

    /// Bytes not read yet.
    public var remaining: Int { max(0, bytes.count - position) }

    /// The next byte, or 0 past the end.
    public mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    /// The next two bytes, little-endian (missing bytes read as 0).
    public mutating func uint16() -> UInt16 {
        UInt16(byte()) | UInt16(byte()) << 8
    }

    /// The next four bytes, little-endian (missing bytes read as 0).
    public mutating func uint32() -> UInt32 {
        UInt32(uint16()) | UInt32(uint16()) << 16
    }

    /// The next eight bytes, little-endian (missing bytes read as 0).
    public mutating func uint64() -> UInt64 {
        UInt64(uint32()) | UInt64(uint32()) << 32
    }

    /// A value in `range`, from one byte when the range has at most 256 values, two when it
    /// has at most 65,536, else eight (taken modulo the range's size).
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(bitPattern: Int64(range.upperBound &- range.lowerBound)) &+ 1
        let raw: UInt64
        if span != 0 && span <= 256 {
            raw = UInt64(byte())
        } else if span != 0 && span <= 65_536 {
            raw = UInt64(uint16())
        } else {
            raw = uint64()
        }
        let offset = span == 0 ? raw : raw % span
        return range.lowerBound &+ Int(truncatingIfNeeded: offset)
    }

    /// One bit of decision: the low bit of the next byte.
    public mutating func bool() -> Bool { byte() & 1 != 0 }

    /// The next `count` bytes, or fewer when the input ends first.
    public mutating func take(_ count: Int) -> UnsafeRawBufferPointer {
        let n = min(max(0, count), remaining)
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)])
    }

    /// Everything not read yet.
    public mutating func rest() -> UnsafeRawBufferPointer { take(remaining) }
}
