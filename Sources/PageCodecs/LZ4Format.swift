// The LZ4 block format's constants, the codec's tuning constants, and the tiny unaligned-access
// helpers both halves of the codec share. Format facts follow lz4/lz4 doc/lz4_Block_format.md.

/// Constants of the LZ4 block format and of this codec's tuning, in one place.
///
/// Format constants are fixed by the format; tuning constants may be changed (the tests and
/// `uswap bench codec` show what a change costs), each explained in one line.
enum LZ4Format {
    // MARK: Format (fixed)

    /// The shortest match the format can express (a match-length nibble of 0 means 4 bytes).
    static let minMatch = 4
    /// The last 5 bytes of a block are always literals.
    static let lastLiterals = 5
    /// The last match starts at least 12 bytes before the end of the input.
    static let matchFindLimit = 12
    /// Inputs shorter than this hold no match: they are one literal run.
    static let minInputForMatch = matchFindLimit + 1
    /// The largest offset a 16-bit offset field holds.
    static let maxDistance = 65535
    /// A nibble of 15 means "a length follows in 255-continued bytes".
    static let runMask = 15

    // MARK: Compressor tuning

    /// log2 of the hash table's slots: 8192 16-bit slots (16 KiB), liblz4's byU16 table.
    static let hashLog = 13
    /// Knuth's multiplicative hash constant (2^32 / phi), liblz4's; spreads 4-byte sequences.
    static let hashMultiplier: UInt32 = 2_654_435_761
    /// After 2^6 = 64 search misses the search step grows by one (skips incompressible data fast).
    static let skipTrigger = 6
    /// liblz4's clamp for acceleration; larger values skip more and compress less.
    static let maxAcceleration = 65537
    /// The largest input the 16-bit position table indexes; larger inputs are stored as literals.
    static let maxTableInput = 65536

    // MARK: Decompressor tuning

    /// The fast loop runs while at least this many output bytes remain: a short sequence's
    /// blind copies (16 literal bytes, then an 18-byte match at most 14 bytes further) stay inside.
    static let fastLoopOutputMargin = 32
    /// The fast loop's short literal path copies 16 bytes blindly; it needs this much input left
    /// (16 bytes of literals window plus the 2-byte offset that must follow; the last sequence,
    /// literals only, always goes through the careful loop).
    static let fastLoopInputMargin = 18
    /// Long literal runs and long matches copy in chunks of up to 32 bytes in the fast loop while
    /// they end at least this far from the output's (and literal runs from the input's) end.
    static let wildCopyMargin = 32
}

/// Unaligned little-endian loads and wild copies on raw pointers.
///
/// The caller guarantees every byte touched is inside its buffer; these helpers check nothing.
@inline(__always)
func lz4Load32(_ p: UnsafeRawPointer) -> UInt32 {
    UInt32(littleEndian: p.loadUnaligned(as: UInt32.self))
}

@inline(__always)
func lz4Load64(_ p: UnsafeRawPointer) -> UInt64 {
    UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
}

@inline(__always)
func lz4Load16(_ p: UnsafeRawPointer) -> Int {
    Int(UInt16(littleEndian: p.loadUnaligned(as: UInt16.self)))
}

/// Copies exactly 8 bytes; source and destination are disjoint or at least 8 bytes apart.
@inline(__always)
func lz4Copy8(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer) {
    destination.storeBytes(of: source.loadUnaligned(as: UInt64.self), as: UInt64.self)
}

/// Copies exactly 16 bytes; source and destination are disjoint or at least 16 bytes apart.
@inline(__always)
func lz4Copy16(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer) {
    let a = source.loadUnaligned(as: UInt64.self)
    let b = source.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
    destination.storeBytes(of: a, as: UInt64.self)
    destination.storeBytes(of: b, toByteOffset: 8, as: UInt64.self)
}

/// Copies 32 bytes a turn from `source` to `destination` until `end` is reached (liblz4's
/// wildCopy32): writes up to 31 bytes past `end` and reads as far past the matching source
/// end. No load of a turn may read what the same turn stored: the source is at least 32 bytes
/// behind the destination, or apart from it.
@inline(__always)
func lz4WildCopy32(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer, until end: UnsafeMutableRawPointer) {
    var d = destination
    var s = source
    repeat {
        lz4Copy16(d, s)
        lz4Copy16(d + 16, s + 16)
        d += 32
        s += 32
    } while d < end
}

/// Writes the extension bytes of a length whose token nibble is 15 (255 while at least 255
/// remain, then the remainder) at `op`; `rest` is the length minus 15. Returns the position
/// after them.
@inline(__always)
func lz4WriteLengthExtension(_ op: UnsafeMutableRawPointer, _ rest: Int) -> UnsafeMutableRawPointer {
    var op = op
    var rest = rest
    while rest >= 255 {
        op.storeBytes(of: 255, as: UInt8.self)
        op += 1
        rest -= 255
    }
    op.storeBytes(of: UInt8(rest), as: UInt8.self)
    return op + 1
}
