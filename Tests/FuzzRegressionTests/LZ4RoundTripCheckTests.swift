import FuzzChecks
import PageCodecs
import TestSupport
import Testing

/// A compressor that writes a valid block of the page as one literal run: decodes fine, but is
/// not liblz4's block.
final class LiteralOnlyCompressor: PageCodec {
    var name: String { "literal-only" }
    func maxCompressedSize(for sourceSize: Int) -> Int { sourceSize + sourceSize / 255 + 16 }
    func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        var n = source.count
        var o = 0
        guard destination.count >= n + n / 255 + 2 else { return nil }
        if n >= 15 {
            destination[0] = 0xF0
            o = 1
            n -= 15
            while n >= 255 { destination[o] = 255; o += 1; n -= 255 }
            destination[o] = UInt8(n)
            o += 1
        } else {
            destination[0] = UInt8(n << 4)
            o = 1
        }
        if source.count > 0 { (destination.baseAddress! + o).copyMemory(from: source.baseAddress!, byteCount: source.count) }
        return o + source.count
    }
    func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
        try LZ4Codec().decompress(source, into: destination)
    }
}

@Suite struct LZ4RoundTripCheckTests {
    static let inputs = FuzzCorpus.inputs(of: LZ4RoundTripCheck.name)

    @Test func theCorpusHasSeeds() {
        #expect(Self.inputs.count >= 10)
    }

    @Test(arguments: inputs)
    func everyCommittedInputPasses(_ input: FuzzCorpus.Input) {
        guard let check = try? LZ4RoundTripCheck() else { return CIGate.unavailable("liblz4 (apt-get install liblz4-1)") }
        runCorpus(check, input)
    }

    @Test func aCompressorWhoseBlocksAreNotLiblz4sIsCaught() throws {
        guard (try? LibLZ4()) != nil else { return CIGate.unavailable("liblz4 (apt-get install liblz4-1)") }
        let check = LZ4RoundTripCheck(makeSubject: { _ in LiteralOnlyCompressor() }, liblz4: { (a) throws(CodecError) in try LibLZ4(acceleration: a) })
        // A text page: liblz4 finds matches, the literal-only compressor does not.
        expectFailure(containing: "the blocks differ") {
            try check.check([0, 0, PageBuilder.rawPage] + Array(repeating: Array("the page of the pool ".utf8), count: 200).joined())
        }
    }
}
