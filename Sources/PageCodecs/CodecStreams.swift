import SystemSupport
import Synchronization

/// One thread's compression state: a primary codec stream, an optional secondary one (zram's
/// recompression codec), and two scratch buffers, as zram's per-CPU `zcomp_strm`.
///
/// **Ownership.** The buffers are allocated in `init` and freed in `deinit`. ``scratch``
/// receives compressed output (sized for the worst case of either codec, and at least a page);
/// ``page`` holds one page for read-modify-write and recompression. Used by one thread at a
/// time: whoever acquired it from ``CodecStreams``.
///
/// **Dispatch.** The codecs arrive as `any PageCodec`; the stream opens the known ones (LZ4,
/// zstd) once, in `init`, so compressing and decompressing a page makes a direct call, not an
/// existential one. Other codecs (a test codec, liblz4) go through the protocol.
public final class CodecStream {
    /// The primary codec (priority 0).
    public let primary: any PageCodec
    /// The secondary codec (priority 1), or `nil`.
    public let secondary: (any PageCodec)?
    /// Room for one compressed page of either codec.
    public let scratch: UnsafeMutableRawBufferPointer
    /// Room for one page.
    public let page: UnsafeMutableRawBufferPointer
    private let primaryEngine: Engine
    private let secondaryEngine: Engine?

    /// A codec with its concrete type recovered where it is one of the package's own.
    private enum Engine {
        case lz4(LZ4Codec)
        case zstd(ZstdCodec)
        case other(any PageCodec)

        init(_ codec: any PageCodec) {
            if let lz4 = codec as? LZ4Codec {
                self = .lz4(lz4)
            } else if let zstd = codec as? ZstdCodec {
                self = .zstd(zstd)
            } else {
                self = .other(codec)
            }
        }

        @inline(__always)
        func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
            switch self {
            case .lz4(let codec): codec.compress(source, into: destination)
            case .zstd(let codec): codec.compress(source, into: destination)
            case .other(let codec): codec.compress(source, into: destination)
            }
        }

        @inline(__always)
        func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
            switch self {
            case .lz4(let codec): try codec.decompress(source, into: destination)
            case .zstd(let codec): try codec.decompress(source, into: destination)
            case .other(let codec): try codec.decompress(source, into: destination)
            }
        }
    }

    /// A stream over `primary` (and `secondary`) for pages of `pageSize` bytes.
    public init(primary: any PageCodec, secondary: (any PageCodec)?, pageSize: Int) {
        self.primary = primary
        self.secondary = secondary
        primaryEngine = Engine(primary)
        secondaryEngine = secondary.map { Engine($0) }
        let worst = max(primary.maxCompressedSize(for: pageSize), secondary?.maxCompressedSize(for: pageSize) ?? 0, pageSize)
        scratch = .allocate(byteCount: worst, alignment: 64)
        scratch.initializeMemory(as: UInt8.self, repeating: 0)
        page = .allocate(byteCount: pageSize, alignment: 64)
        page.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        scratch.deallocate()
        page.deallocate()
    }

    /// The codec for a priority: 0 primary, otherwise secondary.
    @inline(__always)
    public func codec(priority: Int) -> (any PageCodec)? { priority == 0 ? primary : secondary }

    /// Compresses `page` with the primary codec into ``scratch``, as zram's write path does:
    /// into a worst-case-sized buffer (a codec's unbounded path is its fast one), then the size
    /// check. Returns the compressed bytes (in ``scratch``) when they are fewer than
    /// `hugeThreshold` (zram's `huge_class_size`), otherwise `page` itself with `isRaw` set: the
    /// page is to be stored as it is.
    @inline(__always)
    public func compress(
        _ page: UnsafeRawBufferPointer, hugeThreshold: Int
    ) -> (bytes: UnsafeRawBufferPointer, isRaw: Bool) {
        if let size = primaryEngine.compress(page, into: scratch), size > 0, size < hugeThreshold {
            return (UnsafeRawBufferPointer(rebasing: scratch[0..<size]), false)
        }
        return (page, true)
    }

    /// Compresses `page` with the secondary codec into ``scratch``, keeping the result only
    /// when it is shorter than `limit` bytes (recompression). Returns its size, or `nil`.
    public func recompress(_ page: UnsafeRawBufferPointer, below limit: Int) -> Int? {
        guard let secondaryEngine, limit > 0 else { return nil }
        let room = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<min(limit - 1, scratch.count)])
        guard let size = secondaryEngine.compress(page, into: room), size > 0, size < limit else { return nil }
        return size
    }

    /// Restores one page into `buffer` from a stored object: copied when it was stored raw,
    /// otherwise decompressed with the codec of `priority` (0 primary, 1 secondary), which must
    /// fill `buffer` exactly.
    ///
    /// - Throws: ``CodecError/invalidArgument(_:)`` when the stream has no codec of that
    ///   priority, ``CodecError/sizeMismatch(expected:actual:)`` when the object decodes to
    ///   another size, or the codec's own error for a corrupt object.
    @inline(__always)
    public func decode(
        _ object: UnsafeRawBufferPointer, isRaw: Bool, priority: Int, into buffer: UnsafeMutableRawBufferPointer
    ) throws(CodecError) {
        if isRaw { return try Self.copyRaw(object, into: buffer) }
        let engine: Engine
        if priority == 0 {
            engine = primaryEngine
        } else if let secondaryEngine, priority == 1 {
            engine = secondaryEngine
        } else {
            throw .invalidArgument("stored with codec priority \(priority), which this stream has no codec for")
        }
        let produced = try engine.decompress(object, into: buffer)
        if produced != buffer.count { throw .sizeMismatch(expected: buffer.count, actual: produced) }
    }
}

extension CodecStream {
    /// Restores a page stored raw: copies `object` into `buffer`, which it must fill exactly.
    /// Needs no stream.
    ///
    /// - Throws: ``CodecError/sizeMismatch(expected:actual:)`` when the sizes differ.
    @inline(__always)
    public static func copyRaw(_ object: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer) throws(CodecError) {
        guard object.count == buffer.count else { throw .sizeMismatch(expected: buffer.count, actual: object.count) }
        buffer.baseAddress!.copyMemory(from: object.baseAddress!, byteCount: buffer.count)
    }
}

/// A fixed set of ``CodecStream``s shared by all threads, like zram's per-CPU streams: the one
/// home of the per-thread compression state for ZRAM's device and ZSwap's cache.
///
/// ```swift
/// let streams = try CodecStreams(pageSize: 4096, count: 4, makePrimary: { try PageCodecFactory.lz4.makeStream() })
/// let index = streams.acquire()
/// defer { streams.release(index) }
/// let (bytes, isRaw) = streams.stream(index).compress(page, hugeThreshold: 3632)
/// ```
///
/// **Ownership.** The streams and their `busy` flags (an `AtomicArray`) are made once in
/// `init` and freed with the set. A thread takes a stream by flipping its flag false -> true with compare-and-swap
/// (acquire), starting at a slot derived from its thread id, and gives it back by storing false
/// (release). While the flag is true only the taker touches the stream; no lock is held across
/// compression.
///
/// **Invariant** (``checkInvariants()``): when no operation runs, no stream is busy.
public final class CodecStreams: @unchecked Sendable {
    // @unchecked Sendable: a stream is touched only by the thread whose compare-and-swap set its
    // busy flag; the array and the flags never change after init.
    private let streams: ContiguousArray<CodecStream>
    private let busy: AtomicArray<Bool>
    /// How many streams there are.
    public let count: Int

    /// A count for a store used by every thread of the process: two streams per processor.
    public static var defaultCount: Int { max(2, 2 * NativeThread.processorCount) }

    /// Makes `count` streams (at least one), each with a codec from `makePrimary` (and
    /// `makeSecondary`). A maker is called once per stream, here and never again; the first
    /// error a maker throws is thrown as it is (callers wrap it to name the codec).
    public init<Failure: Error>(
        pageSize: Int, count: Int = CodecStreams.defaultCount,
        makePrimary: () throws(Failure) -> any PageCodec,
        makeSecondary: (() throws(Failure) -> any PageCodec)? = nil
    ) throws(Failure) {
        let count = max(1, count)
        var made = ContiguousArray<CodecStream>()
        made.reserveCapacity(count)
        for _ in 0..<count {
            let primary = try makePrimary()
            let secondary = try makeSecondary?()
            made.append(CodecStream(primary: primary, secondary: secondary, pageSize: pageSize))
        }
        streams = made
        self.count = count
        busy = AtomicArray(count: count, repeating: false)
    }

    /// Takes a free stream, waiting (spinning, then yielding once per round over all of them)
    /// while all are busy. Returns its index, for ``stream(_:)`` and ``release(_:)``.
    @inline(__always)
    public func acquire() -> Int {
        // Each thread starts at its own stream (the hint's bits mixed: thread ids are 8 MiB apart).
        var i = NativeThread.currentSlot(count: count)
        var wait = SpinWait(yieldAfter: count)
        while true {
            if !busy[i].load(ordering: .relaxed) {
                let (done, _) = busy[i].compareExchange(
                    expected: false, desired: true, successOrdering: .acquiring, failureOrdering: .relaxed)
                if done { return i }
            }
            i += 1
            if i == count { i = 0 }
            wait.spin()
        }
    }

    /// The stream at `index` (held by the caller).
    @inline(__always) public func stream(_ index: Int) -> CodecStream { streams[index] }

    /// Gives back the stream at `index`.
    @inline(__always)
    public func release(_ index: Int) { busy[index].store(false, ordering: .releasing) }

    /// Runs `body` with a stream held, and gives it back. (Inlinable: the stores call it per
    /// page, and a generic call across modules would not be specialized.)
    @inlinable @inline(__always)
    public func withStream<R, E: Error>(_ body: (CodecStream) throws(E) -> R) throws(E) -> R {
        let index = acquire()
        defer { release(index) }
        return try body(stream(index))
    }

    #if DEBUG
    /// Verifies that no stream is held; call while no operation runs. Debug builds only.
    public func checkInvariants() {
        for i in 0..<count { precondition(!busy[i].load(ordering: .acquiring), "codec stream \(i) still busy") }
    }
    #endif
}
