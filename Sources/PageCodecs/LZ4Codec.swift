/// The pure-Swift LZ4 block codec: the same blocks as liblz4's `LZ4_compress_fast` (1.9.4, byte
/// for byte, so the same ratio), and a safe decoder for every block liblz4 (or anything else)
/// produces.
///
/// A stream owns its compressor's 16 KiB hash table, allocated once in ``init(acceleration:)``
/// and reused for every page; compressing and decompressing allocate nothing. Use one stream per
/// thread. Inputs up to 64 KiB (every page size) are compressed with liblz4's algorithm for
/// small inputs; a larger input, which is not a page, is stored as one literal run (still a valid
/// block).
public final class LZ4Codec: PageCodec {
    /// liblz4's acceleration: 1 (the default) compresses best; each step up skips more of the
    /// input while searching, trading ratio for speed. Values below 1 mean 1, above 65537 mean 65537.
    public let acceleration: Int
    private let compressor: LZ4Compressor

    /// Makes a stream; `acceleration` has liblz4's meaning (see ``acceleration``).
    public init(acceleration: Int = 1) {
        compressor = LZ4Compressor(acceleration: acceleration)
        self.acceleration = compressor.acceleration
    }

    /// `lz4`, as the kernel names it.
    public var name: String { "lz4" }

    /// liblz4's `LZ4_compressBound`: `n + n / 255 + 16` (4128 for a 4 KiB page).
    public func maxCompressedSize(for sourceSize: Int) -> Int { LZ4Compressor.bound(sourceSize) }

    /// Compresses `source` into one LZ4 block in `destination`.
    ///
    /// - Returns: the block's size, or `nil` when it would not fit in `destination` (nothing is
    ///   written past `destination`'s end). Never `nil` with at least
    ///   ``maxCompressedSize(for:)`` bytes of room.
    public func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        compressor.compress(source, into: destination)
    }

    /// Decodes one LZ4 block from `source` into `destination`.
    ///
    /// - Returns: the number of bytes decoded.
    /// - Throws: ``CodecError/truncatedInput(offset:)`` when the block stops inside a sequence,
    ///   ``CodecError/invalidOffset(offset:distance:)`` for an offset of 0 or one reaching before
    ///   the output's start, ``CodecError/outputOverflow(capacity:)`` when the block decodes to
    ///   more than `destination` holds, ``CodecError/malformedBlock(offset:reason:)`` when it ends
    ///   with a match instead of literals.
    public func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
        try LZ4Decompressor.decompress(source, into: destination)
    }

    /// Debug builds: checks the compressor's table invariant (see `LZ4Compressor`).
    func checkInvariants() { compressor.checkInvariants() }
}
