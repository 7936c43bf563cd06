import Testing

@testable import ProcessPager

@Suite struct PageBufferTests {
    @Test(arguments: [1, 64])
    func pagesArePageAlignedAndAddressable(pages: Int) {
        let buffer = PageBuffer(pages: pages, zeroed: true)
        buffer.checkInvariants()
        #expect(buffer.page(pages - 1) == buffer.base + (pages - 1) * 4096)
        #expect(buffer.bytes(pages - 1).allSatisfy { $0 == 0 })
        buffer.page(0).storeBytes(of: 7, as: UInt8.self)
        #expect(buffer.bytes(0).first == 7)
    }
}
