/// The system's liblz4 (`liblz4.so.1`), loaded at run time: the reference the Swift LZ4 codec is
/// measured and cross-checked against (`LZ4_compress_fast` / `LZ4_decompress_safe`).
///
/// Not needed by anything but tests and `uswap bench codec`; when the library is absent,
/// ``init(acceleration:)`` throws and callers report `liblz4: unavailable (reason)`.
/// Like every ``PageCodec`` a stream is used by one thread at a time; liblz4 keeps its hash
/// table on the C stack, so this stream holds no scratch state of its own.
public final class LibLZ4: PageCodec {
    private typealias CompressFast = @convention(c) (
        UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, Int32, Int32
    ) -> Int32
    private typealias DecompressSafe = @convention(c) (
        UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, Int32
    ) -> Int32
    private typealias VersionNumber = @convention(c) () -> Int32

    private struct Symbols: @unchecked Sendable {
        let compressFast: CompressFast
        let decompressSafe: DecompressSafe
        let version: Int32
    }

    /// Loaded once per process; the error is kept so every caller sees the same reason.
    private static let symbols: Result<Symbols, CodecError> = {
        do throws(CodecError) {
            let lib = try DynamicLibrary(["liblz4.so.1", "liblz4.so", "liblz4.dylib", "/usr/lib/x86_64-linux-gnu/liblz4.so.1"])
            let version = try lib.function("LZ4_versionNumber", as: VersionNumber.self)()
            return .success(Symbols(
                compressFast: try lib.function("LZ4_compress_fast", as: CompressFast.self),
                decompressSafe: try lib.function("LZ4_decompress_safe", as: DecompressSafe.self),
                version: version))
        } catch {
            return .failure(error)
        }
    }()

    private let symbols: Symbols
    /// liblz4's acceleration (1 = `LZ4_compress_default`).
    public let acceleration: Int

    /// Loads liblz4 (once per process) and makes a stream.
    /// - Throws: ``CodecError/libraryUnavailable(library:reason:)`` when liblz4 is absent.
    public init(acceleration: Int = 1) throws(CodecError) {
        self.symbols = try Self.symbols.get()
        self.acceleration = acceleration
    }

    /// liblz4's version, e.g. `1.9.4`.
    public var version: String {
        let v = Int(symbols.version)
        return "\(v / 10000).\(v / 100 % 100).\(v % 100)"
    }

    /// `liblz4`.
    public var name: String { "liblz4" }

    /// `LZ4_compressBound`.
    public func maxCompressedSize(for sourceSize: Int) -> Int { sourceSize + sourceSize / 255 + 16 }

    /// `LZ4_compress_fast`; `nil` when the block does not fit in `destination`.
    public func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        let n = symbols.compressFast(
            source.baseAddress, destination.baseAddress, Int32(source.count), Int32(destination.count),
            Int32(acceleration))
        return n > 0 || source.isEmpty ? Int(n) : nil
    }

    /// `LZ4_decompress_safe`; a negative result becomes ``CodecError/malformedBlock(offset:reason:)``
    /// with the input position liblz4 reports.
    public func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
        let n = symbols.decompressSafe(
            source.baseAddress, destination.baseAddress, Int32(source.count), Int32(destination.count))
        guard n >= 0 else { throw .malformedBlock(offset: Int(-n - 1), reason: "liblz4 rejected the block") }
        return Int(n)
    }
}
