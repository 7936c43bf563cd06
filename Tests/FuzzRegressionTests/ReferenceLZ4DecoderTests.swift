import FuzzChecks
import PageCodecs
import Testing

@Suite struct ReferenceLZ4DecoderTests {
    func decode(_ block: [UInt8], capacity: Int) -> (Result<ReferenceLZ4Decoder.Decoded, CodecError>, [UInt8]) {
        var out = [UInt8](repeating: 0, count: capacity)
        let result = block.withUnsafeBytes { src in out.withUnsafeMutableBytes { ReferenceLZ4Decoder.decode(src, into: $0) } }
        if case .success(let d) = result { return (result, Array(out[..<d.count])) }
        return (result, [])
    }

    @Test func decodesLiteralsAndOverlappingMatches() {
        // "A", then a 19-byte match at offset 1, then "PBCDEF".
        let (result, bytes) = decode([0x1F, 0x41, 0x01, 0x00, 0x00, 0x60, 0x50, 0x42, 0x43, 0x44, 0x45, 0x46], capacity: 100)
        #expect(bytes == Array(repeating: 0x41, count: 20) + Array("PBCDEF".utf8))
        #expect(result == .success(.init(count: 26, keepsEndRules: true)))
    }

    @Test func aMatchTooCloseToTheEndBreaksTheEndRulesButDecodes() {
        let (result, bytes) = decode([0x10, 0x41, 0x01, 0x00, 0x10, 0x42], capacity: 100)
        #expect(bytes == [0x41, 0x41, 0x41, 0x41, 0x41, 0x42])
        #expect(result == .success(.init(count: 6, keepsEndRules: false)))
    }

    /// Each malformed block gets the error the package's decoder gives, in the same order.
    @Test(arguments: [
        ([UInt8](), 100),
        ([0x50, 1, 2], 100),
        ([0xF0, 255], 1000),
        ([0x10, 65, 1], 100),
        ([0x10, 65, 0, 0, 0x00], 100),
        ([0x10, 65, 2, 0, 0x00], 100),
        ([0x30, 1, 2, 3], 2),
        ([0x10, 65, 1, 0, 0x00], 4),
        ([0x10, 65, 1, 0], 100),
    ])
    func errorsMatchThePackagesDecoder(block: [UInt8], capacity: Int) {
        let (result, _) = decode(block, capacity: capacity)
        var out = [UInt8](repeating: 0, count: capacity)
        let ours: Result<Int, CodecError> = block.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                do throws(CodecError) { return .success(try LZ4Codec().decompress(src, into: dst)) } catch { return .failure(error) }
            }
        }
        guard case .failure(let expected) = ours, case .failure(let got) = result else {
            Issue.record("expected both to fail: \(ours), \(result)")
            return
        }
        #expect(got == expected)
    }

    @Test func measuresWithoutAnOutputBuffer() {
        let block: [UInt8] = [0x1F, 0x41, 0x01, 0x00, 0xFF, 0xFF, 0x05, 0x50, 0x42, 0x43, 0x44, 0x45, 0x46]
        let result = block.withUnsafeBytes { ReferenceLZ4Decoder.decode($0, into: nil) }
        let count = 1 + (15 + 255 + 255 + 5) + 4 + 5  // "A", the match, "PBCDEF" less the P's nibble
        #expect(result == .success(.init(count: count, keepsEndRules: true)))
    }

    @Test func kindsIgnorePositionsButTellZeroOffsetsApart() {
        #expect(ReferenceLZ4Decoder.kind(of: .truncatedInput(offset: 3)) == ReferenceLZ4Decoder.kind(of: .truncatedInput(offset: 9)))
        #expect(ReferenceLZ4Decoder.kind(of: .invalidOffset(offset: 2, distance: 0)) != ReferenceLZ4Decoder.kind(of: .invalidOffset(offset: 2, distance: 5)))
    }
}
