/// A page compressor/decompressor stream.
///
/// A codec instance is a *stream*: it owns scratch state (hash tables, contexts) that is reused
/// for every page and never allocated per page. A stream is used by one thread at a time; make
/// one per thread (``PageCodecFactory/makeStream()``). One call per page; no allocation inside.
///
/// Page sizes are powers of two from 4 KiB to 64 KiB (``PageSize``).
public protocol PageCodec: AnyObject {
    /// The codec's name as the kernel's `comp_algorithm` spells it (`lz4`, `zstd`), with the
    /// level where it has one (`zstd-1`).
    var name: String { get }

    /// Compresses `source` into `destination`.
    ///
    /// - Returns: the compressed size in bytes, or `nil` when the compressed form would not fit
    ///   in `destination` (the caller then stores the page raw). With a destination of at least
    ///   ``maxCompressedSize(for:)`` bytes the result is never `nil`.
    func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int?

    /// Decompresses `source` into `destination`.
    ///
    /// Safe for any input: a corrupt, truncated or hostile block throws, it never reads outside
    /// `source` nor writes outside `destination`.
    /// - Returns: the number of bytes written to `destination`.
    func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int

    /// The worst-case compressed size of `sourceSize` bytes.
    func maxCompressedSize(for sourceSize: Int) -> Int
}

/// Makes per-thread codec streams of one configuration; cheap to copy and `Sendable`, so a
/// device can hold one and make a stream for each thread that needs one.
public struct PageCodecFactory: Sendable, Hashable, CustomStringConvertible {
    /// Which codec and which setting.
    public enum Kind: Sendable, Hashable {
        /// The pure-Swift LZ4 block codec; `acceleration` has liblz4's meaning (1 = default).
        case lz4(acceleration: Int)
        /// zstd through the system's libzstd, at a compression level.
        case zstd(level: Int)
    }

    /// The codec and its setting.
    public var kind: Kind

    /// A factory for `kind`.
    public init(_ kind: Kind) { self.kind = kind }

    /// LZ4 with liblz4's default acceleration.
    public static let lz4 = PageCodecFactory(.lz4(acceleration: 1))

    /// Parses a name as `uswap` and the kernel spell it: `lz4`, `zstd` (level 1), `zstd-3`.
    public init?(name: String) {
        switch name {
        case "lz4": self.init(.lz4(acceleration: 1))
        case "zstd": self.init(.zstd(level: 1))
        default:
            guard name.hasPrefix("zstd-") || name.hasPrefix("zstd"),
                let level = Int(name.dropFirst(name.hasPrefix("zstd-") ? 5 : 4)), (-7...22).contains(level)
            else { return nil }
            self.init(.zstd(level: level))
        }
    }

    /// `lz4`, `zstd-1`, ...
    public var description: String {
        switch kind {
        case .lz4: "lz4"
        case .zstd(let level): "zstd-\(level)"
        }
    }

    /// Makes a new stream (scratch state allocated once, here).
    ///
    /// - Throws: ``CodecError/libraryUnavailable(library:reason:)`` when zstd is asked for and
    ///   the system's libzstd cannot be loaded.
    public func makeStream() throws(CodecError) -> any PageCodec {
        switch kind {
        case .lz4(let acceleration): return LZ4Codec(acceleration: acceleration)
        case .zstd(let level): return try ZstdCodec(level: level)
        }
    }
}

/// Page sizes the codecs and stores accept.
public enum PageSize {
    /// 4 KiB, the default.
    public static let `default` = 4096
    /// The smallest page size accepted.
    public static let minimum = 4096
    /// The largest page size accepted.
    public static let maximum = 65536

    /// Whether `size` is a power of two from 4 KiB to 64 KiB.
    public static func isValid(_ size: Int) -> Bool {
        size >= minimum && size <= maximum && size & (size - 1) == 0
    }
}
