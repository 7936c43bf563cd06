import Testing
@testable import PageStore

@Suite struct CRC32CTests {
    @Test(arguments: [
        ("123456789", UInt32(0xE306_9283)),
        ("", UInt32(0)),
        ("a", UInt32(0xC1D0_4330)),
        ("The quick brown fox jumps over the lazy dog", UInt32(0x2262_0404)),
    ])
    func knownVectors(text: String, expected: UInt32) {
        #expect(CRC32C.checksum(Array(text.utf8)) == expected)
        let bytewise = Array(text.utf8).withUnsafeBytes { CRC32C.checksumBytewise($0) }
        #expect(bytewise == expected)
    }

    @Test func thirtyTwoZeroBytesMatchTheRFC3720Vector() {
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
    }

    @Test(arguments: [0, 1, 7, 8, 9, 63, 4096, 4099])
    func slicingByEightEqualsBytewiseAtEveryLengthAndAlignment(length: Int) {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<(length + 16)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes.withUnsafeBytes { all in
            for shift in 0..<8 {
                let slice = UnsafeRawBufferPointer(rebasing: all[shift..<(shift + length)])
                #expect(CRC32C.checksum(slice) == CRC32C.checksumBytewise(slice))
            }
        }
    }

    @Test func continuingOverPiecesEqualsTheWhole() {
        let bytes = Array("123456789".utf8)
        let first = CRC32C.checksum(bytes[..<4])
        #expect(CRC32C.checksum(bytes[4...], continuing: first) == 0xE306_9283)
    }

    @Test func checksumsVerifyRecordedPagesAndReportCorruption() throws {
        let table = PageChecksums(count: 4)
        var page = [UInt8](repeating: 7, count: 4096)
        page.withUnsafeBytes { table.record($0, for: 2) }
        #expect(table.checksum(of: 2) == CRC32C.checksum(page))
        #expect(table.checksum(of: 1) == nil)
        try page.withUnsafeBytes { try table.verify($0, for: 2, slot: 9) }
        page[100] ^= 1
        let error = #expect(throws: PageStoreError.self) {
            try page.withUnsafeBytes { try table.verify($0, for: 2, slot: 9) }
        }
        guard case .corrupt(let slot, _)? = error else { Issue.record("wrong error \(String(describing: error))"); return }
        #expect(slot == 9)
        // A block with no record passes; clearing forgets.
        try page.withUnsafeBytes { try table.verify($0, for: 1, slot: 1) }
        table.clear(2)
        try page.withUnsafeBytes { try table.verify($0, for: 2, slot: 9) }
    }
}
