import Testing
import Workloads

@Suite struct VersionedPageTests {
    @Test(arguments: [4096, 16384])
    func aPageVerifiesAtItsVersionOnly(pageSize: Int) {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: 3 * pageSize, alignment: 4096)
        defer { memory.deallocate() }
        for page in 0..<3 { VersionedPage.fill(memory, page: page, version: 1, pageSize: pageSize) }
        #expect((0..<3).allSatisfy { VersionedPage.verify(memory, page: $0, version: 1, pageSize: pageSize) })
        #expect(!VersionedPage.verify(memory, page: 1, version: 2, pageSize: pageSize))
        VersionedPage.fill(memory, page: 1, version: 2, pageSize: pageSize)
        #expect(VersionedPage.verify(memory, page: 1, version: 2, pageSize: pageSize))
        #expect(VersionedPage.verify(memory, page: 2, version: 1, pageSize: pageSize))
    }

    @Test func aSingleChangedByteFailsVerification() {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { memory.deallocate() }
        VersionedPage.fill(memory, page: 0, version: 7, pageSize: 4096)
        memory.storeBytes(of: memory.load(fromByteOffset: 4000, as: UInt8.self) ^ 1, toByteOffset: 4000, as: UInt8.self)
        #expect(!VersionedPage.verify(memory, page: 0, version: 7, pageSize: 4096))
    }

    @Test func oddWordsRepeatSoPagesCompress() {
        #expect(VersionedPage.word(page: 5, version: 3, index: 1) == VersionedPage.word(page: 5, version: 3, index: 99))
        #expect(VersionedPage.word(page: 5, version: 3, index: 0) != VersionedPage.word(page: 5, version: 3, index: 2))
    }
}
