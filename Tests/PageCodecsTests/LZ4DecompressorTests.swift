import Foundation
import TestSupport
import Testing

@testable import PageCodecs

/// A valid block with where its tokens, offsets and match positions are, for targeted mutation.
private struct LZ4FuzzSeed {
    var block: [UInt8]
    var decodedSize: Int
    /// Byte positions of every token.
    var tokens: [Int] = []
    /// Byte positions of every offset field and the output position its match starts at.
    var offsets: [(at: Int, outputPosition: Int)] = []

    init(block: [UInt8], decodedSize: Int) {
        self.block = block
        self.decodedSize = decodedSize
        // Walk the (valid) block once.
        var i = 0, o = 0
        while i < block.count {
            tokens.append(i)
            let token = Int(block[i]); i += 1
            var lit = token >> 4
            if lit == 15 { while true { let b = Int(block[i]); i += 1; lit += b; if b != 255 { break } } }
            i += lit; o += lit
            if i >= block.count { break }
            offsets.append((i, o))
            i += 2
            var ml = token & 15
            if ml == 15 { while true { let b = Int(block[i]); i += 1; ml += b; if b != 255 { break } } }
            o += ml + 4
        }
    }
}

/// One output buffer in its own allocation with guard bytes on both sides.
private struct GuardedBuffer {
    static let guardSize = 16
    static let guardByte: UInt8 = 0xA5
    let raw: UnsafeMutableRawPointer
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        raw = .allocate(byteCount: capacity + 2 * Self.guardSize, alignment: 1)
        raw.initializeMemory(as: UInt8.self, repeating: Self.guardByte, count: capacity + 2 * Self.guardSize)
    }

    var buffer: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: raw + Self.guardSize, count: capacity) }

    /// Whether every guard byte is intact.
    var guardsIntact: Bool {
        for k in 0..<Self.guardSize {
            if raw.load(fromByteOffset: k, as: UInt8.self) != Self.guardByte { return false }
            if raw.load(fromByteOffset: Self.guardSize + capacity + k, as: UInt8.self) != Self.guardByte { return false }
        }
        return true
    }

    func free() { raw.deallocate() }
}

@Suite struct LZ4DecompressorTests {
    /// How many hostile blocks the fuzz test decodes (`USWAP_FUZZ_ITERATIONS`, default 1,000,000).
    static var iterations: Int {
        ProcessInfo.processInfo.environment["USWAP_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 1_000_000
    }

    private static func seeds() -> [LZ4FuzzSeed] {
        var rng = LZ4TestRandom(seed: 2024)
        let swift = LZ4Codec()
        let encoders: [any PageCodec] = [swift] + [referenceLZ4(acceleration: 1), referenceLZ4(acceleration: 8)].compactMap { $0 }
        var inputs: [[UInt8]] = []
        let corpus = TestCorpus.load() ?? []
        for k in 0..<120 {
            let size = [0, 1, 5, 12, 13, 20, 64, 100, 200, 300, 400, 512][k % 12]
            if !corpus.isEmpty && k % 3 == 0 {
                let start = Int.random(in: 0..<(corpus.count - size), using: &rng)
                inputs.append(Array(corpus[start..<(start + size)]))
            } else {
                let period = Int.random(in: 1...24, using: &rng)
                let pattern = rng.bytes(period)
                inputs.append((0..<size).map { i in i % 37 < 30 ? pattern[i % period] : UInt8.random(in: 0...255, using: &rng) })
            }
        }
        inputs.append([UInt8](repeating: 0, count: 600))  // long matches, offset 1
        inputs.append(rng.bytes(400))  // a long literal run
        var seeds: [LZ4FuzzSeed] = []
        for input in inputs {
            for encoder in encoders {
                guard let block = lz4Compress(encoder, input) else { continue }
                seeds.append(LZ4FuzzSeed(block: block, decodedSize: input.count))
            }
        }
        return seeds
    }

    private static func mutate(_ seed: LZ4FuzzSeed, _ other: LZ4FuzzSeed, kind: Int, _ rng: inout LZ4TestRandom) -> [UInt8] {
        var b = seed.block
        switch kind {
        case 0:  // bit flips
            for _ in 0...Int.random(in: 0...2, using: &rng) where !b.isEmpty {
                b[Int.random(in: 0..<b.count, using: &rng)] ^= 1 << UInt8.random(in: 0...7, using: &rng)
            }
        case 1:  // truncation
            b.removeLast(Int.random(in: 0...b.count, using: &rng))
        case 2:  // extended literal length
            if let t = seed.tokens.randomElement(using: &rng) {
                b[t] |= 0xF0
                b.insert(contentsOf: [UInt8](repeating: 255, count: Int.random(in: 0...20, using: &rng)) + [UInt8.random(in: 0...255, using: &rng)], at: t + 1)
            }
        case 3:  // extended match length
            if let (at, _) = seed.offsets.randomElement(using: &rng), let t = seed.tokens.last(where: { $0 < at }) {
                b[t] |= 0x0F
                b.insert(contentsOf: [UInt8](repeating: 255, count: Int.random(in: 0...20, using: &rng)) + [UInt8.random(in: 0...255, using: &rng)], at: at + 2)
            }
        case 4:  // zero offset
            if let (at, _) = seed.offsets.randomElement(using: &rng) { b[at] = 0; b[at + 1] = 0 }
        case 5:  // offset reaching before the start of the output
            if let (at, pos) = seed.offsets.randomElement(using: &rng) {
                let d = min(65535, pos + Int.random(in: 1...300, using: &rng))
                b[at] = UInt8(d & 0xFF); b[at + 1] = UInt8(d >> 8)
            }
        case 6:  // random bytes
            b = rng.bytes(Int.random(in: 0...80, using: &rng))
        case 7:  // random byte overwrites
            for _ in 0...Int.random(in: 0...3, using: &rng) where !b.isEmpty {
                b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
        default:  // splice two blocks
            b = Array(b.prefix(Int.random(in: 0...b.count, using: &rng)))
                + other.block.suffix(Int.random(in: 0...other.block.count, using: &rng))
        }
        return b
    }

    private static func kindName(_ e: CodecError) -> String {
        switch e {
        case .truncatedInput: "truncatedInput"
        case .invalidOffset: "invalidOffset"
        case .outputOverflow: "outputOverflow"
        case .invalidLength: "invalidLength"
        case .malformedBlock: "malformedBlock"
        case .sizeMismatch: "sizeMismatch"
        case .libraryUnavailable: "libraryUnavailable"
        case .libraryError: "libraryError"
        case .invalidArgument: "invalidArgument"
        }
    }

    /// A million mutated, truncated and random blocks, each decoded into exact, one-short,
    /// ten-short and long output buffers with guard bytes: every call decodes or throws, never
    /// touches a byte outside its buffers, and every error kind the decoder has is reached.
    /// Where liblz4 accepts a block the Swift decoder produces the same bytes.
    @Test func hostileBlocksNeverTouchMemoryOutsideTheirBuffers() throws {
        let seeds = Self.seeds()
        try #require(seeds.count > 100)
        let lib = referenceLZ4()  // the differential part; the rest runs without it
        let swift = LZ4Codec()
        var rng = LZ4TestRandom(seed: 77)
        var counts: [String: Int] = [:]
        var guardViolations = 0, overlongResults = 0, disagreements = 0
        let n = Self.iterations
        for i in 0..<n {
            let seed = seeds[i % seeds.count]
            let kind = i % 10 == 9 ? -1 : i % 9  // one in ten is a valid block, untouched
            let input = kind < 0 ? seed.block : Self.mutate(seed, seeds[(i * 7 + 3) % seeds.count], kind: kind, &rng)
            // The input in an allocation of exactly its size (ASan sees any over-read).
            let src = UnsafeMutableRawPointer.allocate(byteCount: max(input.count, 1), alignment: 1)
            defer { src.deallocate() }
            input.withUnsafeBytes { if let a = $0.baseAddress { src.copyMemory(from: a, byteCount: input.count) } }
            let source = UnsafeRawBufferPointer(start: src, count: input.count)
            let exact = seed.decodedSize
            var exactResult: Result<Int, CodecError>?
            var exactBytes: [UInt8] = []
            for capacity in [exact, exact - 1, exact - 10, exact + 64 + i % 64] where capacity >= 0 {
                let out = GuardedBuffer(capacity: capacity)
                defer { out.free() }
                let result: Result<Int, CodecError>
                do throws(CodecError) { result = .success(try swift.decompress(source, into: out.buffer)) } catch {
                    result = .failure(error)
                }
                if !out.guardsIntact { guardViolations += 1 }
                switch result {
                case .success(let written):
                    counts["decoded", default: 0] += 1
                    if written > capacity { overlongResults += 1 }
                case .failure(let e): counts[Self.kindName(e), default: 0] += 1
                }
                if capacity == exact {
                    exactResult = result
                    if case .success(let w) = result, w <= capacity { exactBytes = Array(UnsafeRawBufferPointer(rebasing: out.buffer[..<w])) }
                }
            }
            // Differential check against liblz4 on one input in eight.
            if let lib, i % 8 == 0, let exactResult {
                let ref = GuardedBuffer(capacity: exact)
                defer { ref.free() }
                if let refWritten = try? lib.decompress(source, into: ref.buffer) {
                    switch exactResult {
                    case .success(let w):
                        if w != refWritten || exactBytes != Array(UnsafeRawBufferPointer(rebasing: ref.buffer[..<refWritten])) { disagreements += 1 }
                    case .failure(.invalidOffset(_, distance: 0)):
                        break  // liblz4 1.9.4 does not reject offset 0; we do
                    case .failure(let e):
                        disagreements += 1
                        if disagreements < 5 { print("liblz4 accepted \(input) (\(refWritten) bytes) but the Swift decoder threw \(e)") }
                    }
                }
            }
        }
        print("LZ4 hostile decoding: \(n) inputs, results per kind: \(counts.sorted { $0.key < $1.key })")
        #expect(guardViolations == 0)
        #expect(overlongResults == 0)
        #expect(disagreements == 0)
        for kind in ["decoded", "truncatedInput", "invalidOffset", "outputOverflow", "malformedBlock"] {
            #expect(counts[kind, default: 0] > 0, "no input ended in \(kind)")
        }
    }

    /// Each error names what went wrong and where.
    @Test func errorsSayWhatWentWrongAndWhere() throws {
        let swift = LZ4Codec()
        // Literal run longer than the input.
        #expect(throws: CodecError.truncatedInput(offset: 3)) { try lz4Decompress(swift, [0x50, 1, 2], capacity: 100) }
        // Length extension cut off.
        #expect(throws: CodecError.truncatedInput(offset: 2)) { try lz4Decompress(swift, [0xF0, 255], capacity: 1000) }
        // Offset field cut off.
        #expect(throws: CodecError.truncatedInput(offset: 3)) { try lz4Decompress(swift, [0x10, 65, 1], capacity: 100) }
        // Offset zero and offset before the start.
        #expect(throws: CodecError.invalidOffset(offset: 2, distance: 0)) { try lz4Decompress(swift, [0x10, 65, 0, 0, 0x00], capacity: 100) }
        #expect(throws: CodecError.invalidOffset(offset: 2, distance: 2)) { try lz4Decompress(swift, [0x10, 65, 2, 0, 0x00], capacity: 100) }
        // More output than the buffer holds: literals, then a match.
        #expect(throws: CodecError.outputOverflow(capacity: 2)) { try lz4Decompress(swift, [0x30, 1, 2, 3], capacity: 2) }
        #expect(throws: CodecError.outputOverflow(capacity: 4)) { try lz4Decompress(swift, [0x10, 65, 1, 0, 0x00], capacity: 4) }
        // Ends with a match.
        #expect(throws: CodecError.malformedBlock(offset: 4, reason: "the block ends with a match; its last sequence must be literals only")) {
            try lz4Decompress(swift, [0x10, 65, 1, 0], capacity: 100)
        }
        #expect(try lz4Decompress(swift, [0x10, 65, 1, 0, 0x10, 66], capacity: 100) == [65, 65, 65, 65, 65, 66])
        #expect("\(CodecError.invalidOffset(offset: 2, distance: 0))".contains("corrupt"))
    }

    /// An offset of 0 deep in a block, where the fast loop decodes (its one bound per match
    /// lets 0 pass; the short and long overlapping-match paths reject it), throws
    /// `invalidOffset` at that offset field, before a later offset that reaches before the
    /// output's start; the same block without it decodes.
    @Test(arguments: [(false, 8), (true, 8), (false, 40)])
    func zeroOffsetInTheFastLoopIsReportedWhereItIs(laterOffsetBeforeStart: Bool, matchLength: Int) throws {
        let swift = LZ4Codec()
        var rng = LZ4TestRandom(seed: 11)
        var w = LZ4BlockWriter()
        w.sequence(literals: rng.bytes(32), offset: 32, matchLength: 18)
        for k in 0..<20 { w.sequence(literals: rng.bytes(3), offset: 9 + k, matchLength: 8 + k % 11) }
        var good = w
        good.finish(literals: rng.bytes(40))
        #expect(try lz4Decompress(swift, good.block, capacity: good.decoded.count) == good.decoded)

        var block = w.block
        let zeroAt = block.count + 1 + 5
        // 5 literals, then a match at offset 0 (short, or long with a length byte).
        block += matchLength < 19 ? [0x50 | UInt8(matchLength - 4)] + rng.bytes(5) + [0, 0] : [0x5F] + rng.bytes(5) + [0, 0, UInt8(matchLength - 19)]
        for k in 0..<6 { block += [0x24] + rng.bytes(2) + [UInt8(10 + k), 0] }  // valid sequences after it
        if laterOffsetBeforeStart { block += [0x10, 7, 0xFF, 0x7F] }  // offset 32767: before the start
        block += [0xF0, 40] + rng.bytes(55)
        #expect(throws: CodecError.invalidOffset(offset: zeroAt, distance: 0)) {
            try lz4Decompress(swift, block, capacity: 4096)
        }
    }

    /// A page that repeats one record of `period` bytes is one long match at that offset
    /// (it ends in the careful loop, which copies periodic matches in aligned chunks): the
    /// Swift and liblz4 blocks decode to the page, also with the record starting mid-page, and
    /// into a buffer a byte short the decoder throws and writes nothing outside it.
    @Test(arguments: Array(1...70))
    func pagesRepeatingOneRecordDecodeExactly(period: Int) throws {
        let swift = LZ4Codec()
        var rng = LZ4TestRandom(seed: UInt64(period) &* 31)
        let record = rng.bytes(period)
        let repeated = (0..<4096).map { record[$0 % period] }
        let prefixed = Array(rng.bytes(100) + repeated.prefix(3996))
        for page in [repeated, prefixed] {
            var encoders: [any PageCodec] = [swift]
            if let lib = referenceLZ4() { encoders.append(lib) }
            for encoder in encoders {
                let block = try #require(lz4Compress(encoder, page))
                #expect(try lz4Decompress(swift, block, capacity: 4096) == page, "period \(period) by \(encoder.name)")
                #expect(try lz4Decompress(swift, block, capacity: 4096 + 64) == page, "period \(period) by \(encoder.name)")
                let short = GuardedBuffer(capacity: 4095)
                defer { short.free() }
                #expect(throws: CodecError.self) {
                    try block.withUnsafeBytes { try swift.decompress($0, into: short.buffer) }
                }
                #expect(short.guardsIntact, "period \(period): wrote outside a buffer one byte short")
            }
        }
    }

    /// A literal run whose length takes many bytes of 255 (an incompressible page's takes 16;
    /// the careful loop reads them eight at a time) decodes exactly, and the block cut anywhere
    /// inside those bytes or the run throws `truncatedInput` at the block's end.
    @Test(arguments: [15 + 255 * 7, 15 + 255 * 8 + 3, 4096, 15 + 255 * 17 + 254])
    func longLiteralRunsParseTheirLengthAndTruncateCleanly(count: Int) throws {
        let swift = LZ4Codec()
        var rng = LZ4TestRandom(seed: UInt64(count))
        var w = LZ4BlockWriter()
        w.finish(literals: rng.bytes(count))
        #expect(try lz4Decompress(swift, w.block, capacity: count) == w.decoded)
        #expect(throws: CodecError.outputOverflow(capacity: count - 1)) { try lz4Decompress(swift, w.block, capacity: count - 1) }
        let lengthBytes = 1 + (count - 15) / 255 + 1
        for cut in Array(1...(lengthBytes + 2)) + [w.block.count - 1] {
            #expect(throws: CodecError.truncatedInput(offset: cut)) {
                try lz4Decompress(swift, Array(w.block.prefix(cut)), capacity: count)
            }
        }
    }

    /// Overlapping matches of every short offset and length expand the pattern correctly in
    /// the fast loop and in the careful loop (small output buffers), after literals and right
    /// after another match.
    @Test(arguments: 1...20)
    func overlappingMatchesRepeatThePattern(offset: Int) throws {
        let swift = LZ4Codec()
        var rng = LZ4TestRandom(seed: UInt64(offset))
        for length in [4, 5, 7, 8, 9, 15, 16, 17, 18, 19, 31, 32, 33, 100, 1000] {
            // Once right at the start (the careful loop for small outputs) and once after 40
            // literals with 40 more to follow (the fast loop).
            var w = LZ4BlockWriter()
            w.sequence(literals: rng.bytes(offset), offset: offset, matchLength: length)
            w.sequence(literals: rng.bytes(40), offset: offset, matchLength: length)
            // Right after a match, no literals: the pattern is the match's own output.
            w.sequence(literals: [], offset: offset, matchLength: length)
            w.finish(literals: rng.bytes(40))
            #expect(try lz4Decompress(swift, w.block, capacity: w.decoded.count) == w.decoded, "offset \(offset) length \(length)")
            #expect(try lz4Decompress(swift, w.block, capacity: w.decoded.count + 200) == w.decoded, "offset \(offset) length \(length)")
        }
    }
}
