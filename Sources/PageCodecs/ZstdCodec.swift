/// zstd through the system's libzstd (`libzstd.so.1`), loaded at run time.
///
/// Each page is one zstd frame (`ZSTD_compressCCtx` / `ZSTD_decompressDCtx`), so any zstd tool
/// can read a stored page. Levels go from -7 (fastest) to 22 (smallest), as
/// ``PageCodecFactory/init(name:)`` parses them; level 1 is what the kernel's zram uses.
///
/// Memory: the stream owns one `ZSTD_CCtx` and one `ZSTD_DCtx`, created by `init` and freed by
/// `deinit`. libzstd allocates the contexts' working memory on the first page and reuses it for
/// every later page, so compressing and decompressing allocate nothing per page. The invariant
/// (both context pointers non-null and owned by exactly this stream) holds from the end of `init`
/// to `deinit`; ``checkInvariants()`` checks it in debug builds.
///
/// Like every ``PageCodec``, one stream is used by one thread at a time.
///
/// When libzstd is absent, `init` throws ``CodecError/libraryUnavailable(library:reason:)`` and
/// nothing else in the package is affected.
public final class ZstdCodec: PageCodec {
    /// The compression level, -7...22.
    public let level: Int

    private let symbols: LibZstdSymbols
    private let compressionContext: OpaquePointer
    private let decompressionContext: OpaquePointer

    /// The levels a stream accepts: the ones `uswap` and ``PageCodecFactory`` parse.
    public static let levels: ClosedRange<Int> = -7...22

    /// Loads libzstd (once per process) and creates this stream's two contexts.
    ///
    /// - Parameter level: the compression level, -7...22 (negative levels are faster).
    /// - Throws: ``CodecError/libraryUnavailable(library:reason:)`` when libzstd cannot be
    ///   loaded, ``CodecError/invalidArgument(_:)`` for a level outside -7...22, and
    ///   ``CodecError/libraryError(library:message:)`` when libzstd cannot create a context.
    public convenience init(level: Int) throws(CodecError) {
        try self.init(level: level, symbols: LibZstdSymbols.shared.get())
    }

    /// Like ``init(level:)`` but loads libzstd from the first of `libraryNames` that opens,
    /// without the per-process cache (tests use it to prove the library-absent path).
    convenience init(level: Int, libraryNames: [String]) throws(CodecError) {
        try self.init(level: level, symbols: LibZstdSymbols.load(from: libraryNames))
    }

    private init(level: Int, symbols: LibZstdSymbols) throws(CodecError) {
        guard Self.levels.contains(level) else {
            throw .invalidArgument("zstd level \(level) is out of range: choose a level from -7 (fastest) to 22 (smallest)")
        }
        guard let cctx = symbols.createCCtx() else {
            throw .libraryError(library: symbols.libraryName, message: "ZSTD_createCCtx returned NULL (out of memory)")
        }
        guard let dctx = symbols.createDCtx() else {
            _ = symbols.freeCCtx(cctx)
            throw .libraryError(library: symbols.libraryName, message: "ZSTD_createDCtx returned NULL (out of memory)")
        }
        self.level = level
        self.symbols = symbols
        self.compressionContext = cctx
        self.decompressionContext = dctx
    }

    deinit {
        _ = symbols.freeCCtx(compressionContext)
        _ = symbols.freeDCtx(decompressionContext)
    }

    /// `zstd-1`, `zstd--1`, ... (`zstd-` followed by the level).
    public var name: String { "zstd-\(level)" }

    /// libzstd's version, e.g. `1.5.4`.
    public var version: String {
        let v = Int(symbols.versionNumber())
        return "\(v / 10000).\(v / 100 % 100).\(v % 100)"
    }

    /// `ZSTD_compressBound`: the largest frame `sourceSize` bytes can become.
    public func maxCompressedSize(for sourceSize: Int) -> Int {
        Int(symbols.compressBound(sourceSize))
    }

    /// Compresses `source` into one zstd frame in `destination` with `ZSTD_compressCCtx`.
    ///
    /// - Returns: the frame's size, or `nil` when it does not fit in `destination` (or libzstd
    ///   reports any other error, which the caller handles the same way: it stores the page raw).
    public func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        let result = symbols.compressCCtx(
            compressionContext, destination.baseAddress, destination.count,
            source.baseAddress, source.count, Int32(level))
        guard symbols.isError(result) == 0 else { return nil }
        return result
    }

    /// Decompresses the zstd frame(s) in `source` into `destination` with `ZSTD_decompressDCtx`.
    ///
    /// An empty `source` decodes to zero bytes. libzstd checks every read and write against the
    /// buffers' ends, so any input is safe.
    /// - Throws: ``CodecError/outputOverflow(capacity:)`` when the frame holds more than
    ///   `destination.count` bytes, ``CodecError/truncatedInput(offset:)`` when the frame is cut
    ///   short, ``CodecError/malformedBlock(offset:reason:)`` with libzstd's error name for
    ///   corrupt data, ``CodecError/libraryError(library:message:)`` for anything else (memory).
    public func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
        let result = symbols.decompressDCtx(
            decompressionContext, destination.baseAddress, destination.count,
            source.baseAddress, source.count)
        guard symbols.isError(result) != 0 else { return result }
        throw error(for: result, sourceCount: source.count, destinationCount: destination.count)
    }

    /// Maps a libzstd error code (`ZSTD_ErrorCode`, stable since 1.3) to a ``CodecError``.
    private func error(for result: Int, sourceCount: Int, destinationCount: Int) -> CodecError {
        let name = symbols.errorName(result).map { String(cString: $0) } ?? "unknown error"
        switch symbols.errorCode(result) {
        case 70, 74, 80:  // dstSize_tooSmall, dstBuffer_null, noForwardProgress_destFull
            return .outputOverflow(capacity: destinationCount)
        case 72, 82:  // srcSize_wrong, noForwardProgress_inputEmpty
            return .truncatedInput(offset: sourceCount)
        case 64:  // memory_allocation
            return .libraryError(library: symbols.libraryName, message: name)
        default:  // prefix_unknown, corruption_detected, checksum_wrong, frameParameter_*, ...
            return .malformedBlock(offset: 0, reason: "libzstd: \(name)")
        }
    }

    /// Checks that both contexts are present and distinct (debug builds only).
    public func checkInvariants() {
        #if DEBUG
        precondition(UnsafeRawPointer(compressionContext) != UnsafeRawPointer(decompressionContext),
                     "a zstd stream's compression and decompression contexts must be distinct")
        precondition(Self.levels.contains(level), "zstd level \(level) outside \(Self.levels)")
        #endif
    }
}

/// The libzstd functions the codec uses, taken from the library with `dlsym`.
struct LibZstdSymbols: @unchecked Sendable {
    typealias CreateContext = @convention(c) () -> OpaquePointer?
    typealias FreeContext = @convention(c) (OpaquePointer?) -> Int
    typealias CompressCCtx = @convention(c) (
        OpaquePointer?, UnsafeMutableRawPointer?, Int, UnsafeRawPointer?, Int, Int32
    ) -> Int
    typealias DecompressDCtx = @convention(c) (
        OpaquePointer?, UnsafeMutableRawPointer?, Int, UnsafeRawPointer?, Int
    ) -> Int
    typealias IsError = @convention(c) (Int) -> UInt32
    typealias ErrorCode = @convention(c) (Int) -> Int32
    typealias ErrorName = @convention(c) (Int) -> UnsafePointer<CChar>?
    typealias CompressBound = @convention(c) (Int) -> Int
    typealias VersionNumber = @convention(c) () -> UInt32

    let libraryName: String
    let createCCtx: CreateContext
    let freeCCtx: FreeContext
    let createDCtx: CreateContext
    let freeDCtx: FreeContext
    let compressCCtx: CompressCCtx
    let decompressDCtx: DecompressDCtx
    let isError: IsError
    let errorCode: ErrorCode
    let errorName: ErrorName
    let compressBound: CompressBound
    let versionNumber: VersionNumber

    /// The names tried, in order, for the system's libzstd.
    static let systemNames = [
        "libzstd.so.1", "libzstd.so", "libzstd.1.dylib", "libzstd.dylib", "/usr/lib/x86_64-linux-gnu/libzstd.so.1",
    ]

    /// Loaded once per process; the error is kept so every caller sees the same reason.
    static let shared: Result<LibZstdSymbols, CodecError> = {
        do throws(CodecError) { return .success(try load(from: systemNames)) } catch { return .failure(error) }
    }()

    /// Opens the first of `names` that loads and takes every symbol the codec needs.
    static func load(from names: [String]) throws(CodecError) -> LibZstdSymbols {
        let lib = try DynamicLibrary(names)
        return LibZstdSymbols(
            libraryName: lib.name,
            createCCtx: try lib.function("ZSTD_createCCtx", as: CreateContext.self),
            freeCCtx: try lib.function("ZSTD_freeCCtx", as: FreeContext.self),
            createDCtx: try lib.function("ZSTD_createDCtx", as: CreateContext.self),
            freeDCtx: try lib.function("ZSTD_freeDCtx", as: FreeContext.self),
            compressCCtx: try lib.function("ZSTD_compressCCtx", as: CompressCCtx.self),
            decompressDCtx: try lib.function("ZSTD_decompressDCtx", as: DecompressDCtx.self),
            isError: try lib.function("ZSTD_isError", as: IsError.self),
            errorCode: try lib.function("ZSTD_getErrorCode", as: ErrorCode.self),
            errorName: try lib.function("ZSTD_getErrorName", as: ErrorName.self),
            compressBound: try lib.function("ZSTD_compressBound", as: CompressBound.self),
            versionNumber: try lib.function("ZSTD_versionNumber", as: VersionNumber.self))
    }
}
