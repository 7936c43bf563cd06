import PageCodecs

/// `FuzzLZ4Decode`: hostile LZ4 blocks through the package's decoder, liblz4's
/// `LZ4_decompress_safe` and ``ReferenceLZ4Decoder``, into output buffers of chosen sizes.
///
/// Input: one byte choosing the output capacity (exactly the block's decoded size, one less,
/// a few more, 0, a page, 64 KiB, ...), then the block. The block and every output buffer are
/// exact allocations (``ExactBuffer``), so the sanitizer sees any access outside them.
///
/// What must hold, for every block and capacity:
/// - The decoder under test agrees with the reference: both decode, to the same bytes and
///   count, or both throw the same kind of error; the count never exceeds the capacity.
/// - Where liblz4 decodes, the reference decodes the same bytes, except a zero match offset,
///   which liblz4 accepts (copying from its own output) and the format forbids.
/// - Where liblz4 refuses a block the reference decodes, the block breaks the format's
///   end-of-block rules; a block that keeps them (every block a compressor makes) decodes
///   with all three. Into a zero-byte buffer liblz4 takes exactly the one-byte empty block.
public final class LZ4DecodeCheck: FuzzCheck {
    public static let name = "FuzzLZ4Decode"
    public static let maximumInputLength = 8192

    private let subject: any PageCodec
    private let liblz4: any PageCodec

    /// The package's `LZ4Codec` against liblz4.
    /// - Throws: ``FuzzFailure`` when liblz4 cannot be loaded (install liblz4-1).
    public convenience init() throws(FuzzFailure) {
        let reference: LibLZ4
        do { reference = try LibLZ4() } catch {
            throw FuzzFailure(target: Self.name, "liblz4 is needed as the reference: \(error)")
        }
        self.init(subject: LZ4Codec(), liblz4: reference)
    }

    /// `subject` against `liblz4` (tests pass a broken decoder to see the check catch it).
    public init(subject: any PageCodec, liblz4: any PageCodec) {
        self.subject = subject
        self.liblz4 = liblz4
    }

    /// The output capacity `mode` selects for a block whose decoded size is `natural` (`nil`
    /// when the block does not decode at all).
    public static func capacity(mode: UInt8, natural: Int?) -> Int {
        let small = Int(mode >> 3)
        let size = natural ?? 4096
        switch mode & 7 {
        case 0: return size
        case 1: return max(0, size - 1)
        case 2: return 4096
        case 3: return size + small
        case 4: return 65_536
        case 5: return small
        case 6: return max(0, size - small)
        default: return 0
        }
    }

    public func check(_ input: UnsafeRawBufferPointer) throws(FuzzFailure) {
        var reader = FuzzInput(input)
        let mode = reader.byte()
        let source = ExactBuffer(copying: reader.rest())
        let block = source.readOnly
        let natural: Int?
        switch ReferenceLZ4Decoder.decode(block, into: nil, capacity: 1 << 22) {
        case .success(let decoded): natural = decoded.count
        case .failure: natural = nil
        }
        let capacity = Self.capacity(mode: mode, natural: natural)

        let expected = ExactBuffer(count: capacity, fill: 0x11)
        let reference = ReferenceLZ4Decoder.decode(block, into: expected.bytes)
        let ours = ExactBuffer(count: capacity, fill: 0xEE)
        let oursResult: Result<Int, CodecError>
        do throws(CodecError) { oursResult = .success(try subject.decompress(block, into: ours.bytes)) } catch {
            oursResult = .failure(error)
        }
        let theirs = ExactBuffer(count: capacity, fill: 0x5A)
        let theirsResult: Result<Int, CodecError>
        do throws(CodecError) { theirsResult = .success(try liblz4.decompress(block, into: theirs.bytes)) } catch {
            theirsResult = .failure(error)
        }
        func what() -> String { "a \(block.count)-byte block into \(capacity) bytes" }

        // The decoder under test against the reference.
        switch (reference, oursResult) {
        case (.success(let r), .success(let count)):
            guard count == r.count else {
                throw failure("\(subject.name) decoded \(what()) to \(count) bytes, the reference to \(r.count)")
            }
            if let at = firstDifference(ours.prefix(count), expected.prefix(count)) {
                throw failure("\(subject.name) decoded \(what()) to different bytes than the reference, first at byte \(at)")
            }
        case (.failure(let r), .failure(let e)):
            guard ReferenceLZ4Decoder.kind(of: r) == ReferenceLZ4Decoder.kind(of: e) else {
                throw failure("\(subject.name) refused \(what()) with \(e), the reference with \(r)")
            }
        case (.success(let r), .failure(let e)):
            throw failure("\(subject.name) refused \(what()) (\(e)) that the reference decodes to \(r.count) bytes")
        case (.failure(let r), .success(let count)):
            throw failure("\(subject.name) decoded \(what()) to \(count) bytes where the reference refuses it (\(r))")
        }
        if case .success(let count) = oursResult, count > capacity {
            throw failure("\(subject.name) reported \(count) bytes decoded into a \(capacity)-byte buffer")
        }

        // liblz4 against the reference. Into no room at all liblz4 takes only the empty
        // block's one zero byte (a token whose match nibble is set is refused, though no match
        // follows); everywhere else it ignores that nibble on the last sequence.
        if capacity == 0 {
            let empty = block.count == 1 && block[0] == 0
            guard case .success = theirsResult, empty else {
                if case .failure = theirsResult, !empty { return }
                throw failure("liblz4 gave \(theirsResult) for \(what())\(empty ? ", the empty block" : "")")
            }
            return
        }
        switch (reference, theirsResult) {
        case (.success(let r), .success(let count)):
            guard count == r.count, theirs.hasPrefix(count, equalTo: expected.readOnly) else {
                throw failure("liblz4 decoded \(what()) to \(count) bytes that differ from the reference's \(r.count)")
            }
        case (.success(let r), .failure):
            guard !r.keepsEndRules else {
                throw failure("liblz4 refused \(what()) that keeps the format's end-of-block rules and decodes to \(r.count) bytes")
            }
        case (.failure(let r), .success(let count)):
            guard case .invalidOffset(_, 0) = r else {
                throw failure("liblz4 decoded \(what()) to \(count) bytes where the reference refuses it (\(r))")
            }
        case (.failure, .failure):
            break
        }
        source.checkInvariants()
    }

    /// Blocks liblz4 and the package's compressor make from the seed pages and the corpus
    /// pages, each with the mode byte for an exact-size output (every fourth for a page of
    /// room), plus a few hand-made edge cases.
    public static func seeds() throws(FuzzFailure) -> [[UInt8]] {
        let liblz4: LibLZ4
        do { liblz4 = try LibLZ4() } catch { throw FuzzFailure(target: name, "liblz4 is needed to make the seeds: \(error)") }
        var seeds: [[UInt8]] = [[0, 0x00], [0, 0x10, 0x41], [0, 0x1F, 0x41, 0x01, 0x00, 0xFF, 0x10, 0x50, 0x42, 0x43, 0x44, 0x45, 0x46]]
        let ours = LZ4Codec()
        for (index, page) in (SeedPages.pages() + SeedPages.corpusPages()).enumerated() {
            let codecs: [any PageCodec] = index % 2 == 0 ? [liblz4, ours] : [liblz4]
            for codec in codecs {
                if let block = SeedPages.compress(page, with: codec) {
                    seeds.append([UInt8(index % 4 == 3 ? 2 : 0)] + block)
                }
            }
        }
        return seeds
    }
}
