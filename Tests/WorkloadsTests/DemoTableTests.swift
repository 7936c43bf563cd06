import SystemSupport
import Testing
import Workloads

@Suite struct DemoTableTests {
    @Test func recordsAreDeterministicAndChecksummed() {
        let a = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 16)
        let b = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 16)
        defer { a.deallocate(); b.deallocate() }
        DemoTable.writeRecord(123_456, version: 3, into: a)
        DemoTable.writeRecord(123_456, version: 3, into: b)
        #expect(memcmp(a, b, 128) == 0)
        #expect(a.load(as: UInt64.self) == 123_456)
        #expect(DemoTable.checksum(UnsafeRawPointer(a)) == a.load(fromByteOffset: 124, as: UInt32.self))
        DemoTable.writeRecord(123_456, version: 4, into: b)
        #expect(memcmp(a, b, 128) != 0)
    }

    @Test func everySixteenthPageIsFreedAndAllZero() {
        let table = DemoTable(pageCount: 32)
        #expect(table.recordCount == 32 * 32)
        let page = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { page.deallocate() }
        page.initializeMemory(as: UInt8.self, repeating: 0xFF, count: 4096)
        #expect(DemoTable.isFreed(page: 15) && DemoTable.isFreed(page: 31) && !DemoTable.isFreed(page: 16))
        table.writePage(15, into: page)
        #expect(UnsafeRawBufferPointer(start: page, count: 4096).allSatisfy { $0 == 0 })
        table.writePage(16, into: page)
        #expect(page.load(as: UInt64.self) == 16 * 32)
    }
}
