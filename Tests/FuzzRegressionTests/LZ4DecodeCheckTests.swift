import FuzzChecks
import PageCodecs
import TestSupport
import Testing

/// A decoder that is wrong in one chosen way, to prove the check notices.
final class BrokenLZ4Decoder: PageCodec {
    enum Flaw { case lastByteFlipped, acceptsEverything, shortCount }
    let flaw: Flaw
    let inner = LZ4Codec()
    init(_ flaw: Flaw) { self.flaw = flaw }
    var name: String { "broken-lz4" }
    func maxCompressedSize(for sourceSize: Int) -> Int { inner.maxCompressedSize(for: sourceSize) }
    func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        inner.compress(source, into: destination)
    }
    func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
        switch flaw {
        case .acceptsEverything:
            return (try? inner.decompress(source, into: destination)) ?? 0
        case .shortCount:
            return max(0, try inner.decompress(source, into: destination) - 1)
        case .lastByteFlipped:
            let n = try inner.decompress(source, into: destination)
            if n > 0 { destination[n - 1] ^= 1 }
            return n
        }
    }
}

@Suite struct LZ4DecodeCheckTests {
    static let inputs = FuzzCorpus.inputs(of: LZ4DecodeCheck.name)

    @Test func theCorpusHasSeeds() {
        #expect(Self.inputs.count >= 10)
    }

    @Test(arguments: inputs)
    func everyCommittedInputPasses(_ input: FuzzCorpus.Input) {
        guard let check = try? LZ4DecodeCheck() else { return CIGate.unavailable("liblz4 (apt-get install liblz4-1)") }
        runCorpus(check, input)
    }

    /// "A", a 66-byte overlapping match, "BCDEF" (72 bytes), behind an exact-capacity mode byte.
    static let pageBlock: [UInt8] = [0] + [0x1F, 0x41, 0x01, 0x00, 0x2F, 0x50, 0x42, 0x43, 0x44, 0x45, 0x46]

    @Test func wrongBytesAWrongCountAndAcceptingGarbageAreCaught() throws {
        guard let liblz4 = try? LibLZ4() else { return CIGate.unavailable("liblz4 (apt-get install liblz4-1)") }
        expectFailure(containing: "different bytes") {
            try LZ4DecodeCheck(subject: BrokenLZ4Decoder(.lastByteFlipped), liblz4: liblz4).check(Self.pageBlock)
        }
        expectFailure(containing: "to 71 bytes, the reference to 72") {
            try LZ4DecodeCheck(subject: BrokenLZ4Decoder(.shortCount), liblz4: liblz4).check(Self.pageBlock)
        }
        // Truncated: the reference refuses, the broken decoder "decodes" it.
        expectFailure(containing: "where the reference refuses it") {
            try LZ4DecodeCheck(subject: BrokenLZ4Decoder(.acceptsEverything), liblz4: liblz4).check([0, 0x50, 1, 2])
        }
        try LZ4DecodeCheck(subject: LZ4Codec(), liblz4: liblz4).check(Self.pageBlock)
    }

    @Test func aReferenceThatDisagreesWithTheSpecificationIsCaught() {
        // liblz4 standing in for itself but with the broken decoder: a block that keeps the
        // end-of-block rules must decode with "liblz4" too.
        expectFailure(containing: "liblz4 decoded") {
            try LZ4DecodeCheck(subject: LZ4Codec(), liblz4: BrokenLZ4Decoder(.lastByteFlipped)).check(Self.pageBlock)
        }
    }

    @Test(arguments: [(0, 26), (1, 25), (2, 4096), (3 | 5 << 3, 31), (4, 65_536), (5 | 7 << 3, 7), (6 | 2 << 3, 24), (7, 0)] as [(UInt8, Int)])
    func theModeByteChoosesTheCapacity(mode: UInt8, capacity: Int) {
        #expect(LZ4DecodeCheck.capacity(mode: mode, natural: 26) == capacity)
    }
}
