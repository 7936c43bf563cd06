import PageCodecs

/// `FuzzZstd`: zstd frames through `ZstdCodec` (the system's libzstd, loaded at run time).
///
/// Input: a mode byte, then what the mode needs.
/// - **Hostile frame**: a capacity byte, then the frame as it is. Decoding either succeeds
///   within the capacity or throws a `CodecError` that names corrupt or short data or a too
///   small buffer; decoding again into 64 more bytes of room gives the same bytes (or, after
///   a too-small buffer, any outcome).
/// - **Round trip**: a level (-7...12) and a page (``PageBuilder``). The frame decodes to the
///   page; one byte less of room is `outputOverflow`; the frame cut short is an error, never a
///   page.
/// - **Limited compression**: a level, a destination size and a page: `nil`, or a frame that
///   fits and decodes to the page.
/// - **Damaged frame**: a valid frame of a page, then bytes of it overwritten as the input
///   says: an error or some output within the capacity, never a crash.
///
/// libzstd is not instrumented, so the fuzzer sees coverage only in the Swift wrapper; the
/// seeds (frames of the seed pages at several levels) and the damaged-frame mode carry the
/// search. AddressSanitizer still checks every buffer the wrapper hands libzstd through its
/// `memcpy` interceptors and the exact-size buffers.
public final class ZstdCheck: FuzzCheck {
    public static let name = "FuzzZstd"
    public static let maximumInputLength = 9000
    /// The levels the round trips use.
    public static let levels: ClosedRange<Int> = -7...12

    private var streams: [Int: ZstdCodec] = [:]

    /// Loads libzstd.
    /// - Throws: ``FuzzFailure`` when libzstd is missing (install libzstd1).
    public init() throws(FuzzFailure) {
        _ = try stream(level: 1)
    }

    /// One stream per level, made on first use and kept (a stream keeps no state between frames).
    private func stream(level: Int) throws(FuzzFailure) -> ZstdCodec {
        if let stream = streams[level] { return stream }
        do {
            let stream = try ZstdCodec(level: level)
            streams[level] = stream
            return stream
        } catch {
            throw FuzzFailure(target: Self.name, "libzstd is needed: \(error)")
        }
    }

    static func capacity(_ choice: UInt8) -> Int {
        switch choice & 7 {
        case 0, 1: 4096
        case 2: 0
        case 3: Int(choice >> 3)
        case 4: 4095
        case 5: 65_536
        case 6: 4096 + Int(choice >> 3)
        default: Int(choice) * 16
        }
    }

    public func check(_ input: UnsafeRawBufferPointer) throws(FuzzFailure) {
        var reader = FuzzInput(input)
        let mode = reader.byte()
        switch mode & 3 {
        case 0:
            let capacity = Self.capacity(reader.byte())
            let frame = ExactBuffer(copying: reader.rest())
            try decodeHostile(frame.readOnly, capacity: capacity, what: "a \(frame.count)-byte hostile frame")
        case 1:
            let codec = try stream(level: reader.int(in: Self.levels))
            let page = ExactBuffer(count: pageSize(mode))
            PageBuilder.build(page.bytes, from: &reader)
            try roundTrip(page.readOnly, codec: codec, cut: Int(mode >> 4) + 1)
        case 2:
            let codec = try stream(level: reader.int(in: Self.levels))
            let room = Int(reader.uint16()) % 5000
            let page = ExactBuffer(count: pageSize(mode))
            PageBuilder.build(page.bytes, from: &reader)
            try limited(page.readOnly, codec: codec, room: room)
        default:
            let codec = try stream(level: 1)
            let page = ExactBuffer(count: 4096)
            let edits = Int(mode >> 2) % 16 + 1
            let capacity = Self.capacity(reader.byte())
            var positions: [(Int, UInt8)] = []
            for _ in 0..<edits { positions.append((Int(reader.uint16()), reader.byte())) }
            PageBuilder.build(page.bytes, from: &reader)
            let frame = ExactBuffer(count: codec.maxCompressedSize(for: page.count))
            guard let size = codec.compress(page.readOnly, into: frame.bytes) else {
                throw failure("\(codec.name) could not compress a page into its bound")
            }
            let damaged = ExactBuffer(copying: frame.prefix(size))
            // Not `damaged.bytes[at] ^= ...`: swiftc 6.3.1 aborts ("Invalid bitcast") on that
            // compound assignment to a raw buffer's byte under -sanitize=thread, which CI builds.
            for (position, value) in positions where size > 0 {
                let at = position % size
                damaged.bytes[at] = damaged.bytes[at] ^ (value | 1)
            }
            try decodeHostile(damaged.readOnly, capacity: capacity, what: "a \(size)-byte frame with \(edits) damaged bytes")
        }
    }

    private func pageSize(_ mode: UInt8) -> Int { mode & 0x0C == 0x0C ? 16_384 : 4096 }

    /// Decodes `frame` into `capacity` bytes, then into 64 more, and checks both outcomes.
    private func decodeHostile(_ frame: UnsafeRawBufferPointer, capacity: Int, what: @autoclosure () -> String) throws(FuzzFailure) {
        let codec = try stream(level: 1)
        let first = ExactBuffer(count: capacity, fill: 0xEE)
        let firstResult = decode(frame, into: first, codec: codec)
        if case .success(let n) = firstResult, n > capacity {
            throw failure("libzstd reported \(n) bytes decoded from \(what()) into \(capacity) bytes")
        }
        if case .failure(let error) = firstResult { try expectDataError(error, what: what()) }
        let second = ExactBuffer(count: capacity + 64, fill: 0x11)
        let secondResult = decode(frame, into: second, codec: codec)
        if case .failure(let error) = secondResult { try expectDataError(error, what: what()) }
        switch (firstResult, secondResult) {
        case (.success(let a), .success(let b)):
            guard a == b, first.hasPrefix(a, equalTo: second.readOnly) else {
                throw failure("\(what()) decoded to \(a) bytes into \(capacity) bytes of room but to \(b) different bytes with 64 more")
            }
        case (.success(let a), .failure(let error)):
            throw failure("\(what()) decoded to \(a) bytes into \(capacity) bytes of room but failed with 64 more: \(error)")
        case (.failure, _):
            break
        }
    }

    private func decode(_ frame: UnsafeRawBufferPointer, into buffer: borrowing ExactBuffer, codec: ZstdCodec) -> Result<Int, CodecError> {
        do throws(CodecError) { return .success(try codec.decompress(frame, into: buffer.bytes)) } catch { return .failure(error) }
    }

    /// A decoding error must blame the data or the buffer, never the library or an argument.
    private func expectDataError(_ error: CodecError, what: @autoclosure () -> String) throws(FuzzFailure) {
        switch error {
        case .outputOverflow, .truncatedInput, .malformedBlock: return
        default: throw failure("decoding \(what()) failed with \(error), not an error that names the data or the buffer")
        }
    }

    private func roundTrip(_ page: UnsafeRawBufferPointer, codec: ZstdCodec, cut: Int) throws(FuzzFailure) {
        func what() -> String { "a \(page.count)-byte page at \(codec.name)" }
        let frame = ExactBuffer(count: codec.maxCompressedSize(for: page.count))
        guard let size = codec.compress(page, into: frame.bytes) else {
            throw failure("\(codec.name) could not compress \(what()) into its bound of \(frame.count) bytes")
        }
        let compressed = ExactBuffer(copying: frame.prefix(size))
        let out = ExactBuffer(count: page.count, fill: 0xEE)
        switch decode(compressed.readOnly, into: out, codec: codec) {
        case .success(let n):
            guard n == page.count, out.hasPrefix(n, equalTo: page) else {
                throw failure("the frame of \(what()) decoded to \(n) bytes that differ from the page")
            }
        case .failure(let error):
            throw failure("the frame of \(what()) did not decode: \(error)")
        }
        if page.count > 0 {
            let short = ExactBuffer(count: page.count - 1)
            switch decode(compressed.readOnly, into: short, codec: codec) {
            case .failure(.outputOverflow): break
            case let other: throw failure("the frame of \(what()) into one byte less than the page gave \(other), not outputOverflow")
            }
        }
        let cutFrame = ExactBuffer(copying: compressed.prefix(max(0, size - cut)))
        let cutOut = ExactBuffer(count: page.count)
        if case .success(let n) = decode(cutFrame.readOnly, into: cutOut, codec: codec), size - cut > 0 {
            throw failure("the frame of \(what()) cut short by \(cut) bytes decoded to \(n) bytes instead of failing")
        }
    }

    private func limited(_ page: UnsafeRawBufferPointer, codec: ZstdCodec, room: Int) throws(FuzzFailure) {
        let frame = ExactBuffer(count: room)
        guard let size = codec.compress(page, into: frame.bytes) else { return }
        guard size <= room else { throw failure("\(codec.name) reported a \(size)-byte frame in \(room) bytes of room") }
        let exact = ExactBuffer(copying: frame.prefix(size))
        let out = ExactBuffer(count: page.count)
        switch decode(exact.readOnly, into: out, codec: codec) {
        case .success(let n) where n == page.count && out.hasPrefix(n, equalTo: page): break
        case let other: throw failure("a frame compressed into \(room) bytes of room decoded to \(other), not the page")
        }
    }

    /// Frames of the seed pages at levels 1, 3 and -5 (hostile-frame mode, 4 KiB of room),
    /// the pages themselves for the round-trip and damaged-frame modes.
    public static func seeds() throws(FuzzFailure) -> [[UInt8]] {
        var seeds: [[UInt8]] = []
        let pages = SeedPages.pages()
        for (level, levelByte) in [(1, UInt8(8)), (3, 10), (-5, 2)] {
            let codec: ZstdCodec
            do { codec = try ZstdCodec(level: level) } catch { throw FuzzFailure(target: name, "libzstd is needed to make the seeds: \(error)") }
            for (index, page) in pages.enumerated() where level == 1 || index % 3 == 0 {
                if let frame = SeedPages.compress(page, with: codec) { seeds.append([0, 0] + frame) }
                seeds.append([1, levelByte, PageBuilder.rawPage] + page)
            }
        }
        for (index, page) in pages.enumerated() where index % 4 == 1 {
            seeds.append([3, 0, 0x10, 0x00, 0x55, PageBuilder.rawPage] + page)
            seeds.append([2, 8, 0x00, 0x02, PageBuilder.rawPage] + page)
        }
        return seeds
    }
}
