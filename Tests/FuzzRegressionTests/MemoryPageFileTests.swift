import FuzzChecks
import PageStore
import Testing

@Suite struct MemoryPageFileTests {
    @Test func blocksReadBackAndPunchedBlocksReadAsZeros() throws {
        let file = MemoryPageFile(pageSize: 4096, blockCount: 4)
        let page = [UInt8](repeating: 0x5C, count: 4096)
        var buffer = [UInt8](repeating: 0xEE, count: 4096)
        try page.withUnsafeBytes { try file.writeBlock($0, at: 2) }
        try buffer.withUnsafeMutableBytes { try file.readBlock(2, into: $0) }
        #expect(buffer == page)
        #expect(try file.punchHole(at: 2, count: 1))
        try buffer.withUnsafeMutableBytes { try file.readBlock(2, into: $0) }
        #expect(buffer.allSatisfy { $0 == 0 })
        #expect(file.ioCounters.reads == 2 && file.ioCounters.writes == 1 && file.ioCounters.punches == 1)
        file.checkInvariants()
    }

    @Test func callsPastTheEndOrOfTheWrongSizeFail() {
        let file = MemoryPageFile(pageSize: 4096, blockCount: 2)
        var buffer = [UInt8](repeating: 0, count: 4096)
        #expect(throws: PageStoreError.self) { try buffer.withUnsafeMutableBytes { try file.readBlock(2, into: $0) } }
        #expect(throws: PageStoreError.wrongPageSize(expected: 4096, actual: 100)) {
            try [UInt8](repeating: 0, count: 100).withUnsafeBytes { try file.writeBlock($0, at: 0) }
        }
        #expect(file.ioCounters.failedReads == 1 && file.ioCounters.failedWrites == 1)
    }
}
