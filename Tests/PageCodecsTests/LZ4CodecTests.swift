import Foundation
import Testing

@testable import PageCodecs

// MARK: - Shared helpers for the LZ4 tests

/// A small deterministic PRNG (SplitMix64) so every run tests the same inputs.
struct LZ4TestRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &self) } }
}

/// Compresses with `codec` into a bound-sized buffer.
func lz4Compress(_ codec: any PageCodec, _ input: [UInt8]) -> [UInt8]? {
    var out = [UInt8](repeating: 0, count: codec.maxCompressedSize(for: input.count))
    let n = input.withUnsafeBytes { src in out.withUnsafeMutableBytes { codec.compress(src, into: $0) } }
    guard let n else { return nil }
    out.removeSubrange(n...)
    return out
}

/// Decompresses with `codec` into a buffer of `capacity` bytes; the decoded bytes.
func lz4Decompress(_ codec: any PageCodec, _ block: [UInt8], capacity: Int) throws(CodecError) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: capacity)
    var result: Result<Int, CodecError> = .success(0)
    block.withUnsafeBytes { src in
        out.withUnsafeMutableBytes { dst in
            do throws(CodecError) { result = .success(try codec.decompress(src, into: dst)) } catch { result = .failure(error) }
        }
    }
    let n = try result.get()
    out.removeSubrange(n...)
    return out
}

/// Writes LZ4 blocks sequence by sequence, for decoder tests that need exact lengths/offsets.
struct LZ4BlockWriter {
    private(set) var block: [UInt8] = []
    private(set) var decoded: [UInt8] = []

    /// The 255-continued bytes after a nibble of 15, for a field value of `n` (>= 15).
    private mutating func length(_ n: Int) {
        var rest = n - 15
        while rest >= 255 { block.append(255); rest -= 255 }
        block.append(UInt8(rest))
    }

    /// Appends a sequence: `literals`, then a match of `matchLength` (>= 4) at `offset`.
    mutating func sequence(literals: [UInt8], offset: Int, matchLength: Int) {
        let ml = matchLength - 4
        block.append(UInt8(min(literals.count, 15) << 4 | min(ml, 15)))
        if literals.count >= 15 { length(literals.count) }
        block += literals
        decoded += literals
        block += [UInt8(offset & 0xFF), UInt8(offset >> 8)]
        if ml >= 15 { length(ml) }
        for _ in 0..<matchLength { decoded.append(decoded[decoded.count - offset]) }
    }

    /// Appends the final literal-only sequence.
    mutating func finish(literals: [UInt8]) {
        block.append(UInt8(min(literals.count, 15) << 4))
        if literals.count >= 15 { length(literals.count) }
        block += literals
        decoded += literals
    }
}

// MARK: - Round trips, cross-compatibility and ratio

@Suite struct LZ4CodecTests {
    static var lib: LibLZ4? { try? LibLZ4() }

    /// Every 4 KiB corpus page round trips through the Swift codec, decodes with liblz4 to the
    /// same bytes, liblz4's own blocks (acceleration 1 and 8) decode with the Swift decoder, and
    /// the Swift ratio is liblz4's (the blocks are liblz4's byte for byte: see LZ4CompressorTests).
    @Test func everyCorpusPageRoundTripsAndCrossDecodesWithLiblz4() throws {
        guard let corpus = try TestCorpus.load() else { return }
        let lib = try #require(Self.lib, "liblz4 is needed as the reference")
        let lib8 = try LibLZ4(acceleration: 8)
        let swift = LZ4Codec()
        let page = 4096
        let bound = swift.maxCompressedSize(for: page)
        var block = [UInt8](repeating: 0, count: bound)
        var out = [UInt8](repeating: 0, count: page)
        var swiftTotal = 0, libTotal = 0, failures = 0
        corpus.withUnsafeBytes { all in
            block.withUnsafeMutableBytes { blk in
                out.withUnsafeMutableBytes { dst in
                    for p in 0..<(all.count / page) {
                        let src = UnsafeRawBufferPointer(rebasing: all[(p * page)..<((p + 1) * page)])
                        for (encoder, decoders) in [(swift as any PageCodec, [swift as any PageCodec, lib]), (lib, [swift]), (lib8, [swift])] {
                            guard let n = encoder.compress(src, into: blk) else { failures += 1; continue }
                            if encoder === swift { swiftTotal += n } else if encoder === lib { libTotal += n }
                            for decoder in decoders {
                                let got = try? decoder.decompress(UnsafeRawBufferPointer(rebasing: blk[..<n]), into: dst)
                                if got != page || memcmp(dst.baseAddress!, src.baseAddress!, page) != 0 {
                                    failures += 1
                                    if failures < 5 { print("page \(p): \(encoder.name) -> \(decoder.name) failed (\(String(describing: got)))") }
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(failures == 0)
        let swiftRatio = Double(corpus.count) / Double(swiftTotal)
        let libRatio = Double(corpus.count) / Double(libTotal)
        print("LZ4 ratio on the corpus: Swift \(swiftRatio) (\(swiftTotal) bytes), liblz4 \(libRatio) (\(libTotal) bytes)")
        #expect(swiftTotal == libTotal)
        swift.checkInvariants()
    }

    /// Corpus pages grouped into 8, 16 and 64 KiB inputs round trip both ways with liblz4.
    @Test(arguments: [8192, 16384, 65536])
    func largerPagesRoundTripBothWays(pageSize: Int) throws {
        guard let corpus = try TestCorpus.load() else { return }
        let lib = try #require(Self.lib)
        let swift = LZ4Codec()
        var rng = LZ4TestRandom(seed: UInt64(pageSize))
        let pages = corpus.count / pageSize
        for _ in 0..<24 {
            let p = Int.random(in: 0..<pages, using: &rng)
            let input = Array(corpus[(p * pageSize)..<((p + 1) * pageSize)])
            let block = try #require(lz4Compress(swift, input))
            #expect(try lz4Decompress(swift, block, capacity: pageSize) == input)
            #expect(try lz4Decompress(lib, block, capacity: pageSize) == input)
            let libBlock = try #require(lz4Compress(lib, input))
            #expect(try lz4Decompress(swift, libBlock, capacity: pageSize) == input)
            // Same algorithm, same table: the same block.
            #expect(block == libBlock)
        }
        swift.checkInvariants()
    }

    /// Inputs of every awkward shape round trip and decode with liblz4 to the same bytes.
    @Test(arguments: LZ4CodecTests.edgeInputs())
    func generatedInputRoundTripsAndDecodesWithLiblz4(_ input: LZ4EdgeInput) throws {
        let swift = LZ4Codec()
        let block = try #require(lz4Compress(swift, input.bytes), "\(input.name)")
        #expect(block.count <= swift.maxCompressedSize(for: input.bytes.count))
        #expect(try lz4Decompress(swift, block, capacity: input.bytes.count) == input.bytes, "\(input.name)")
        if let lib = Self.lib, input.bytes.count <= 65536 {
            #expect(try lz4Decompress(lib, block, capacity: input.bytes.count) == input.bytes, "\(input.name)")
            if let libBlock = lz4Compress(lib, input.bytes) {
                #expect(try lz4Decompress(swift, libBlock, capacity: input.bytes.count) == input.bytes, "\(input.name)")
            }
        }
        // The same stream compresses the same input to the same block again (the table left by
        // the first call is cleared).
        #expect(lz4Compress(swift, input.bytes) == block, "\(input.name)")
        swift.checkInvariants()
    }

    /// Blocks written sequence by sequence at the format's length and offset boundaries decode
    /// to the intended bytes, and liblz4 agrees.
    @Test(arguments: LZ4CodecTests.handWrittenBlocks())
    func handWrittenBoundaryBlocksDecodeLikeLiblz4(_ case_: LZ4HandBlock) throws {
        let swift = LZ4Codec()
        #expect(try lz4Decompress(swift, case_.block, capacity: case_.decoded.count) == case_.decoded, "\(case_.name)")
        #expect(try lz4Decompress(swift, case_.block, capacity: case_.decoded.count + 100) == case_.decoded, "\(case_.name)")
        #expect(throws: CodecError.self) { try lz4Decompress(swift, case_.block, capacity: case_.decoded.count - 1) }
        if let lib = Self.lib {
            #expect(try lz4Decompress(lib, case_.block, capacity: case_.decoded.count) == case_.decoded, "\(case_.name)")
        }
    }

    /// One stream compresses hundreds of inputs of every size in any order; a previous input's
    /// positions left in the table never produce a wrong match.
    @Test func oneStreamCompressesMixedPageSizesCorrectly() throws {
        let swift = LZ4Codec()
        var rng = LZ4TestRandom(seed: 7)
        let word = rng.bytes(64)
        for i in 0..<600 {
            let size = [4096, 8192, 16384, 65536, 4096, 100, 13, 65535][i % 8]
            // Pages share content so stale slots would point at equal-looking bytes.
            var input = [UInt8](repeating: 0, count: size)
            for k in 0..<size { input[k] = k % 97 < 60 ? word[(k + i) % 64] : UInt8.random(in: 0...255, using: &rng) }
            let block = try #require(lz4Compress(swift, input))
            #expect(try lz4Decompress(swift, block, capacity: size) == input)
            swift.checkInvariants()
        }
    }

    /// `acceleration` has liblz4's meaning: clamped to 1...65537, and higher values are not
    /// better compressors.
    @Test func accelerationIsClampedAndTradesRatio() throws {
        #expect(LZ4Codec(acceleration: 0).acceleration == 1)
        #expect(LZ4Codec(acceleration: -5).acceleration == 1)
        #expect(LZ4Codec(acceleration: 1_000_000).acceleration == 65537)
        #expect(LZ4Codec().name == "lz4")
        #expect(LZ4Codec().maxCompressedSize(for: 4096) == 4128)
        guard let corpus = try TestCorpus.load() else { return }
        var sizes: [Int] = []
        for accel in [1, 8, 64] {
            let codec = LZ4Codec(acceleration: accel)
            var total = 0
            for p in stride(from: 0, to: min(corpus.count / 4096, 2000), by: 1) {
                let input = Array(corpus[(p * 4096)..<((p + 1) * 4096)])
                let block = try #require(lz4Compress(codec, input))
                total += block.count
                if p % 50 == 0 { #expect(try lz4Decompress(codec, block, capacity: 4096) == input) }
            }
            sizes.append(total)
        }
        #expect(sizes[0] < sizes[1] && sizes[1] < sizes[2], "sizes by acceleration 1, 8, 64: \(sizes)")
    }

    /// The empty input compresses to the one-byte empty block, which decodes to nothing.
    @Test func emptyInputIsTheOneByteEmptyBlock() throws {
        let swift = LZ4Codec()
        #expect(lz4Compress(swift, []) == [0])
        #expect(try lz4Decompress(swift, [0], capacity: 0) == [])
        #expect(try lz4Decompress(swift, [0], capacity: 10) == [])
        #expect(throws: CodecError.truncatedInput(offset: 0)) { try lz4Decompress(swift, [], capacity: 10) }
        #expect(throws: CodecError.outputOverflow(capacity: 0)) { try lz4Decompress(swift, [0x10, 65], capacity: 0) }
        // No buffers at all: an empty source is truncated; the empty block fits in no output.
        #expect(throws: CodecError.truncatedInput(offset: 0)) {
            try swift.decompress(UnsafeRawBufferPointer(start: nil, count: 0), into: UnsafeMutableRawBufferPointer(start: nil, count: 0))
        }
        #expect(try [UInt8(0)].withUnsafeBytes { try swift.decompress($0, into: UnsafeMutableRawBufferPointer(start: nil, count: 0)) } == 0)
        #expect(swift.compress(UnsafeRawBufferPointer(start: nil, count: 0), into: UnsafeMutableRawBufferPointer(start: nil, count: 0)) == nil)
    }
}

// MARK: - Generated inputs

/// A named input for the parameterized round-trip test.
struct LZ4EdgeInput: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    var testDescription: String { "\(name) (\(bytes.count) bytes)" }
}

/// A named hand-written block and what it decodes to.
struct LZ4HandBlock: Sendable, CustomTestStringConvertible {
    let name: String
    let block: [UInt8]
    let decoded: [UInt8]
    var testDescription: String { name }
}

extension LZ4CodecTests {
    static func edgeInputs() -> [LZ4EdgeInput] {
        var rng = LZ4TestRandom(seed: 42)
        var inputs: [LZ4EdgeInput] = []
        for n in 1...16 {
            inputs.append(LZ4EdgeInput(name: "random \(n)", bytes: rng.bytes(n)))
            inputs.append(LZ4EdgeInput(name: "zero \(n)", bytes: [UInt8](repeating: 0, count: n)))
        }
        for n in [4096, 8192, 65535, 65536] {
            inputs.append(LZ4EdgeInput(name: "all zero", bytes: [UInt8](repeating: 0, count: n)))
            inputs.append(LZ4EdgeInput(name: "random", bytes: rng.bytes(n)))
        }
        inputs.append(LZ4EdgeInput(name: "one repeated byte", bytes: [UInt8](repeating: 0xA7, count: 4096)))
        let word = rng.bytes(8)
        inputs.append(LZ4EdgeInput(name: "repeated 8-byte word", bytes: (0..<4096).map { word[$0 % 8] }))
        for period in 1...9 {
            let pattern = rng.bytes(period)
            inputs.append(LZ4EdgeInput(name: "period \(period)", bytes: (0..<4096).map { pattern[$0 % period] }))
        }
        // Not pages: stored as one literal run, still valid.
        inputs.append(LZ4EdgeInput(name: "above 64 KiB, literals", bytes: (0..<65537).map { UInt8($0 % 251) }))
        inputs.append(LZ4EdgeInput(name: "100000 random", bytes: rng.bytes(100_000)))
        // The last match must start 12 bytes before the end and leave 5 literals: inputs whose
        // repeated tail ends exactly at each position around that limit.
        let head = rng.bytes(48)
        for tail in 0...20 {
            var b = head + head
            b += rng.bytes(tail)
            inputs.append(LZ4EdgeInput(name: "match then \(tail) tail bytes", bytes: b))
        }
        for len in [13, 14, 15, 16, 17, 20, 24, 25, 28] {
            inputs.append(LZ4EdgeInput(name: "short repeat \(len)", bytes: [UInt8](repeating: 3, count: len)))
        }
        // Literal runs at the 15 and 15 + 255 boundaries, then a long match.
        for lit in [14, 15, 16, 269, 270, 271, 524, 525, 526] {
            let r = rng.bytes(lit)
            let m = rng.bytes(40)
            inputs.append(LZ4EdgeInput(name: "literal run \(lit)", bytes: r + m + m + rng.bytes(16)))
        }
        // Match lengths at 18/19 (nibble 14/15) and 19 + 255 boundaries.
        for ml in [17, 18, 19, 20, 273, 274, 275, 528, 529] {
            let unit = rng.bytes(ml)
            inputs.append(LZ4EdgeInput(name: "match length \(ml)", bytes: unit + rng.bytes(3) + unit + rng.bytes(20)))
        }
        // Offsets 1...8 and the largest, 65535.
        for offset in 1...8 {
            let seed = rng.bytes(offset)
            inputs.append(LZ4EdgeInput(name: "offset \(offset)", bytes: rng.bytes(20) + (0..<300).map { seed[$0 % offset] } + rng.bytes(20)))
        }
        var far = rng.bytes(65536)
        for k in 0..<64 { far[65535 - 63 - 20 + k] = far[k] }
        inputs.append(LZ4EdgeInput(name: "offset 65535 (64 KiB input)", bytes: far))
        return inputs
    }

    static func handWrittenBlocks() -> [LZ4HandBlock] {
        var rng = LZ4TestRandom(seed: 99)
        var cases: [LZ4HandBlock] = []
        func add(_ name: String, _ build: (inout LZ4BlockWriter) -> Void) {
            var w = LZ4BlockWriter()
            build(&w)
            cases.append(LZ4HandBlock(name: name, block: w.block, decoded: w.decoded))
        }
        for lit in [0, 1, 14, 15, 16, 269, 270, 271, 524, 525, 526] {
            let bytes = rng.bytes(lit + 8)
            let tail = rng.bytes(8)  // match (4) + tail: the last match starts 12 bytes before the end
            add("literals \(lit)") { w in
                w.sequence(literals: bytes, offset: 8, matchLength: 4)
                w.finish(literals: [UInt8](bytes.prefix(lit)) + tail)
            }
        }
        for ml in [4, 5, 17, 18, 19, 20, 273, 274, 275, 528, 529, 2000] {
            for offset in [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 40] {
                let lits = rng.bytes(max(offset, 8))
                let tail = rng.bytes(max(5, 12 - ml))  // the end rules, exactly at their limits
                add("match \(ml) offset \(offset)") { w in
                    w.sequence(literals: lits, offset: offset, matchLength: ml)
                    w.finish(literals: tail)
                }
            }
        }
        // The last match starts exactly 12 bytes before the end; then exactly 5 literals.
        let start = rng.bytes(64)
        add("last match at end - 12, then 5 literals") { w in
            w.sequence(literals: start, offset: 64, matchLength: 7)
            w.finish(literals: rng.bytes(5))
        }
        // Many short sequences (the decoder's fast loop) ending in a long literal run.
        let base = rng.bytes(32)
        let tail300 = rng.bytes(300)
        add("many short sequences") { w in
            w.sequence(literals: base, offset: 32, matchLength: 18)
            for k in 0..<200 { w.sequence(literals: [UInt8(k)], offset: 9 + k % 40, matchLength: 4 + k % 15) }
            w.finish(literals: tail300)
        }
        // Offset 65535 from the first byte.
        let far = rng.bytes(65535)
        add("offset 65535") { w in
            w.sequence(literals: far, offset: 65535, matchLength: 30)
            w.finish(literals: rng.bytes(7))
        }
        return cases
    }
}
