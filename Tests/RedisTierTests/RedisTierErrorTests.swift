import Testing

@testable import RedisTier

@Suite("RedisTierError: what happened between the tier and the cluster, and what to do")
struct RedisTierErrorTests {
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
}
