import FuzzChecks
import PageCodecs
import Testing

@Suite struct PageBuilderTests {
    func build(_ commands: [UInt8], size: Int = 4096) -> [UInt8] {
        var page = [UInt8](repeating: 0xEE, count: size)
        commands.withUnsafeBytes { raw in
            var input = FuzzInput(raw)
            page.withUnsafeMutableBytes { PageBuilder.build($0, from: &input) }
        }
        return page
    }

    @Test func zeroWordAndRawPages() {
        #expect(build([0]).allSatisfy { $0 == 0 })
        let word = build([1, 1, 2, 3, 4, 5, 6, 7, 8])
        #expect(word.withUnsafeBytes { SameFilled.word(of: $0) } == 0x0807_0605_0403_0201)
        let raw = build([PageBuilder.rawPage] + Array(1...10), size: 4096)
        #expect(Array(raw[..<10]) == Array(1...10))
        #expect(raw[10...].allSatisfy { $0 == 0 })
    }

    @Test func segmentsCopyFillAndRepeat() {
        // kind 4 with 3 segments: literal "ABC", fill 5 x 0x7A, copy 8 bytes from distance 3.
        let page = build([4 | 2 << 3, 0x08, 0x41, 0x42, 0x43, 0x01, 0x04, 0x00, 0x7A, 0x02, 0x02, 0x00, 0x01])
        #expect(Array(page[..<16]) == Array("ABC".utf8) + Array(repeating: 0x7A, count: 5) + [0x7A, 0x7A, 0x7A, 0x7A, 0x7A, 0x7A, 0x7A, 0x7A])
        #expect(page[16...].allSatisfy { $0 == 0 })
    }

    @Test func noiseIsIncompressible() {
        let page = build([2, 9, 9, 9, 9])
        let bound = LZ4Codec().maxCompressedSize(for: page.count)
        var out = [UInt8](repeating: 0, count: bound)
        let size = page.withUnsafeBytes { src in out.withUnsafeMutableBytes { LZ4Codec().compress(src, into: $0) } }
        #expect((size ?? 0) > 4096)
    }

    @Test func anEmptyInputMakesAZeroPage() {
        #expect(build([]).allSatisfy { $0 == 0 })
    }
}
