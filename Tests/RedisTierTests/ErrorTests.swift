import Testing

@testable import RedisTier

@Suite("RedisTierError and PageTierError: what happened and what to do")
struct ErrorTests {
    @Test("Every RedisTierError says what to do or what was involved", arguments: [
        (RedisTierError.unreachable("127.0.0.1:1: refused"), "start it"),
        (.notACluster(node: "h:1"), "cluster-enabled"),
        (.evictionPolicy(node: "h:1", policy: "allkeys-lru"), "noeviction"),
        (.incompleteCoverage(unservedSlots: 5), "redis-cli --cluster fix"),
        (.connectionFailed(node: "h:1", reason: "refused"), "h:1"),
        (.timedOut(node: "h:1", operation: "a reply", milliseconds: 300), "300 ms"),
        (.protocolViolation(node: "h:1", detail: "x"), "Redis server"),
        (.serverError(node: "h:1", message: "ERR x"), "ERR x"),
        (.keysLeftBehind(count: 3, reason: "down"), "gc"),
        (.closed, "new one"),
        (.invalidConfiguration("bad"), "bad"),
    ])
    func redisTierMessages(error: RedisTierError, words: String) {
        #expect(error.description.contains(words))
    }

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
