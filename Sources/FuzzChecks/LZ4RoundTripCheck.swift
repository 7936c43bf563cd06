import PageCodecs

/// `FuzzLZ4RoundTrip`: pages the fuzzer shapes (``PageBuilder``) through the package's LZ4
/// compressor, then back through both decoders.
///
/// Input, repeated for up to ``pagesPerInput`` pages on one stream (so the compressor's table
/// carries from page to page, as it does in a device): a settings byte (acceleration and page
/// size: 4 KiB, 64 KiB, or any size up to 64 KiB), a byte choosing a smaller destination for a
/// second, limited compression, and the page's commands.
///
/// What must hold:
/// - Into a destination of `maxCompressedSize` bytes the compressor always succeeds.
/// - The block decodes to the page with the package's decoder, liblz4 and the reference, and
///   keeps the format's end-of-block rules.
/// - liblz4's compressor at the same acceleration makes the same block, byte for byte.
/// - Into a smaller destination the compressor returns `nil` or the same block (never a block
///   that is cut short, never a byte written past the destination).
public final class LZ4RoundTripCheck: FuzzCheck {
    public static let name = "FuzzLZ4RoundTrip"
    public static let maximumInputLength = 70_000
    /// Pages one input compresses on one stream.
    public static let pagesPerInput = 3
    static let accelerations = [1, 1, 1, 2, 3, 8, 100, 65_537]

    private let liblz4: (Int) throws(CodecError) -> any PageCodec
    private let makeSubject: (Int) -> any PageCodec
    private let decoder = LZ4Codec()

    /// The package's `LZ4Codec` against liblz4.
    /// - Throws: ``FuzzFailure`` when liblz4 cannot be loaded (install liblz4-1).
    public convenience init() throws(FuzzFailure) {
        do { _ = try LibLZ4() } catch { throw FuzzFailure(target: Self.name, "liblz4 is needed as the reference: \(error)") }
        self.init(makeSubject: { LZ4Codec(acceleration: $0) }, liblz4: { (a) throws(CodecError) in try LibLZ4(acceleration: a) })
    }

    /// Streams made by `makeSubject` (given an acceleration) against `liblz4`'s.
    public init(makeSubject: @escaping (Int) -> any PageCodec, liblz4: @escaping (Int) throws(CodecError) -> any PageCodec) {
        self.makeSubject = makeSubject
        self.liblz4 = liblz4
    }

    public func check(_ input: UnsafeRawBufferPointer) throws(FuzzFailure) {
        var reader = FuzzInput(input)
        let settings = reader.byte()
        let acceleration = Self.accelerations[Int(settings & 7)]
        let subject = makeSubject(acceleration)
        let reference: any PageCodec
        do { reference = try liblz4(acceleration) } catch { throw failure("liblz4 is unavailable: \(error)") }
        var index = 0
        repeat {
            let size: Int
            switch (settings >> 3 &+ UInt8(index)) & 3 {
            case 0, 1: size = 4096
            case 2: size = 65_536
            default: size = Int(reader.uint16()) % 65_537
            }
            let limitChoice = reader.byte()
            let page = ExactBuffer(count: size)
            PageBuilder.build(page.bytes, from: &reader)
            try roundTrip(page.readOnly, subject: subject, reference: reference, limitChoice: limitChoice, index: index)
            index += 1
        } while index < Self.pagesPerInput && !reader.isExhausted
    }

    private func roundTrip(
        _ page: UnsafeRawBufferPointer, subject: any PageCodec, reference: any PageCodec, limitChoice: UInt8, index: Int
    ) throws(FuzzFailure) {
        let n = page.count
        func what() -> String { "page \(index) (\(n) bytes, acceleration \((subject as? LZ4Codec)?.acceleration ?? 0))" }
        let bound = subject.maxCompressedSize(for: n)
        let block = ExactBuffer(count: bound)
        guard let size = subject.compress(page, into: block.bytes) else {
            throw failure("\(subject.name) could not compress \(what()) into its own bound of \(bound) bytes")
        }
        guard size > 0 && size <= bound else { throw failure("\(subject.name) compressed \(what()) to \(size) bytes, bound \(bound)") }
        let compressed = block.prefix(size)

        switch ReferenceLZ4Decoder.decode(compressed, into: nil, capacity: n) {
        case .success(let decoded):
            guard decoded.count == n else { throw failure("the block for \(what()) decodes to \(decoded.count) bytes") }
            guard decoded.keepsEndRules else { throw failure("the block for \(what()) breaks the format's end-of-block rules") }
        case .failure(let error):
            throw failure("the reference refuses the block \(subject.name) made for \(what()): \(error)")
        }
        for decoder in [decoder, reference] as [any PageCodec] {
            let out = ExactBuffer(count: n, fill: 0xEE)
            switch result(of: { () throws(CodecError) in try decoder.decompress(compressed, into: out.bytes) }) {
            case .success(let produced):
                guard produced == n, out.hasPrefix(n, equalTo: page) else {
                    throw failure("\(decoder.name) decoded the block for \(what()) to \(produced) bytes that differ from the page")
                }
            case .failure(let error):
                throw failure("\(decoder.name) refused the block \(subject.name) made for \(what()): \(error)")
            }
        }

        let theirs = ExactBuffer(count: bound)
        if let theirSize = reference.compress(page, into: theirs.bytes) {
            guard theirSize == size, theirs.hasPrefix(size, equalTo: compressed) else {
                throw failure("liblz4 compressed \(what()) to \(theirSize) bytes, \(subject.name) to \(size): the blocks differ")
            }
        }

        // A second compression into less room: nil, or exactly the same block.
        let delta = Int(limitChoice >> 1)
        let limit = limitChoice & 1 == 0 ? max(0, size - delta) : min(bound - 1, size + delta)
        let limited = ExactBuffer(count: max(0, limit))
        if let again = subject.compress(page, into: limited.bytes) {
            guard again == size, limited.hasPrefix(size, equalTo: compressed) else {
                throw failure("into \(limit) bytes \(subject.name) compressed \(what()) to a \(again)-byte block unlike its \(size)-byte one")
            }
        }
    }

    /// The seed pages and the corpus pages, stored raw, with a few accelerations and limits;
    /// short and odd sizes.
    public static func seeds() -> [[UInt8]] {
        var seeds: [[UInt8]] = []
        for (index, page) in (SeedPages.pages() + SeedPages.corpusPages()).enumerated() {
            seeds.append([UInt8(index % 4 == 0 ? 5 : 0), UInt8(index), PageBuilder.rawPage] + page)
        }
        // Short and odd sizes: the settings byte's size bits 3 select "a size from the input".
        for size in [0, 1, 12, 13, 17, 100, 4095] {
            seeds.append([0x18, UInt8(size & 0xFF), UInt8(size >> 8), 0, PageBuilder.rawPage] + SeedPages.page(kind: 1).prefix(size))
        }
        return seeds
    }
}
