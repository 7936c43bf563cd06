import Testing
@testable import PageCodecs

private func word(of bytes: [UInt8]) -> UInt64? { bytes.withUnsafeBytes { SameFilled.word(of: $0) } }

private func filled(_ count: Int, with w: UInt64) -> [UInt8] {
    var bytes = [UInt8](repeating: 0xCC, count: count)
    bytes.withUnsafeMutableBytes { SameFilled.fill($0, with: w) }
    return bytes
}

@Suite struct SameFilledTests {
    @Test(arguments: [4096, 8192, 16384, 65536])
    func zeroPageIsSameFilledWithWordZero(_ size: Int) {
        #expect(word(of: [UInt8](repeating: 0, count: size)) == 0)
    }

    @Test(arguments: [UInt64(0x0102_0304_0506_0708), 0xFFFF_FFFF_FFFF_FFFF, 0xDEAD_BEEF_0000_0001, 1])
    func repeatedWordIsFoundAndFillRecreatesThePage(_ w: UInt64) {
        let page = filled(4096, with: w)
        #expect(word(of: page) == w)
        // The word is read in memory order: the first eight bytes, as the host reads them.
        let firstEight = page.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect(firstEight == w)
        #expect(filled(4096, with: word(of: page)!) == page)
    }

    @Test func repeatedBytePatternIsSameFilled() {
        let page = [UInt8](repeating: 0xAB, count: 4096)
        #expect(word(of: page) == 0xABAB_ABAB_ABAB_ABAB)
    }

    @Test(arguments: [0, 1, 7, 8, 9, 31, 32, 33, 40, 2047, 4056, 4063, 4064, 4087, 4088, 4095])
    func oneDifferentByteAnywhereMakesThePageNotSameFilled(_ index: Int) {
        var page = filled(4096, with: 0x1111_2222_3333_4444)
        page[index] ^= 0x80
        #expect(word(of: page) == nil, "byte \(index) changed")
        var zeros = [UInt8](repeating: 0, count: 4096)
        zeros[index] = 1
        #expect(word(of: zeros) == nil, "byte \(index) of a zero page set")
    }

    @Test func pageOfTwoAlternatingWordsIsNotSameFilled() {
        var page = [UInt8](repeating: 0, count: 4096)
        page.withUnsafeMutableBytes { p in
            for i in stride(from: 0, to: 4096, by: 16) { p.storeBytes(of: UInt64(5), toByteOffset: i, as: UInt64.self) }
        }
        #expect(word(of: page) == nil)
    }

    @Test(arguments: [16, 24, 40, 48, 56, 72])
    func shortMultiplesOfEightAreCheckedWordByWord(_ count: Int) {
        #expect(word(of: filled(count, with: 42)) == 42)
        for index in 0..<count {
            var differing = filled(count, with: 42)
            differing[index] ^= 0xFF
            #expect(word(of: differing) == nil, "byte \(index) of \(count) changed")
        }
    }

    @Test func aSingleWordIsItsOwnRepetition() {
        let bytes: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        #expect(word(of: bytes) == bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
    }

    @Test(arguments: [0, 1, 7, 9, 4095, 4097, 4100])
    func lengthsThatAreNotPositiveMultiplesOfEightAreNeverSameFilled(_ count: Int) {
        #expect(word(of: [UInt8](repeating: 0, count: count)) == nil)
    }

    @Test func fillCutsTheRepetitionOffAtAnUnalignedEnd() {
        let w: UInt64 = 0x0807_0605_0403_0201
        let memoryOrder = withUnsafeBytes(of: w) { Array($0) }
        #expect(filled(11, with: w) == memoryOrder + memoryOrder[..<3])
        #expect(filled(5, with: w) == Array(memoryOrder[..<5]))
    }

    @Test func fillOfAnEmptyBufferDoesNothing() {
        SameFilled.fill(UnsafeMutableRawBufferPointer(start: nil, count: 0), with: 9)
        #expect(word(of: []) == nil)
    }

    @Test func unalignedStartIsHandled() {
        let storage = [UInt8](repeating: 0x3C, count: 4096 + 3)
        let w = storage.withUnsafeBytes { SameFilled.word(of: UnsafeRawBufferPointer(rebasing: $0[3..<(3 + 4096)])) }
        #expect(w == 0x3C3C_3C3C_3C3C_3C3C)
    }
}
