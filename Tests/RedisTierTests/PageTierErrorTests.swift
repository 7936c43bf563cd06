import Testing

@testable import RedisTier

@Suite("PageTierError: what happened to the page, and what to do")
struct PageTierErrorTests {
    @Test("Every PageTierError says what happened to the page", arguments: [
        (PageTierError.objectTooLarge(size: 5000, limit: 4096), "raw"),
        (.batchFull(capacity: 4), "removeAll"),
        (.unavailable("x"), "nothing was freed"),
        (.notAcknowledged("x"), "stay in memory"),
        (.missing(handle: 0x2a), "0x2a"),
        (.corrupt(handle: 1, reason: "crc"), "nothing was freed"),
        (.bufferTooSmall(needed: 10, available: 5), "maxObjectSize"),
        (.io(errno: 5, operation: "pread"), "pread"),
        (.closed, "new one"),
    ])
    func pageTierMessages(error: PageTierError, words: String) {
        #expect(error.description.contains(words))
    }
}
