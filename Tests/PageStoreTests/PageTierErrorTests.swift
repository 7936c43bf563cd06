import SystemSupport
import Testing

@testable import PageStore

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

@Suite struct PageStoreErrorFromTierErrorTests {
    @Test func anIOErrorKeepsItsErrno() {
        #expect(PageStoreError(tierError: .io(errno: ENOSPC, operation: "pwrite"), slot: 3) == .io(errno: ENOSPC, operation: "pwrite"))
    }

    @Test func aCorruptOrMissingObjectIsACorruptSlot() {
        #expect(PageStoreError(tierError: .corrupt(handle: 9, reason: "CRC"), slot: 4) == .corrupt(slot: 4, reason: "CRC"))
        guard case .corrupt(slot: 5, _) = PageStoreError(tierError: .missing(handle: 2), slot: 5) else {
            Issue.record("a missing object must be a corrupt slot")
            return
        }
    }

    @Test func anUnreachableTierIsATimeoutNamingTheSlot() {
        guard case .io(let code, let operation) = PageStoreError(tierError: .unavailable("node down"), slot: 7) else {
            Issue.record("an unavailable tier must be an I/O error")
            return
        }
        #expect(code == ETIMEDOUT && operation.contains("slot 7") && operation.contains("node down"))
    }

    @Test func anyOtherTierErrorIsEIOAndABatchNamesNoSlot() {
        guard case .io(let code, let operation) = PageStoreError(tierError: .closed, slot: -1) else {
            Issue.record("a closed tier must be an I/O error")
            return
        }
        #expect(code == EIO && !operation.contains("slot"))
    }
}
