import Testing

@testable import ZsPool

@Suite struct ZsCompactionTests {
    /// A pool with `spans` spans of the 500-byte class, each a quarter full: the objects kept,
    /// and the class.
    func makeSparsePool(spans: Int) throws -> (pool: ZsPool, kept: [ZsHandle], classIndex: Int) {
        let pool = try ZsPool(pageSize: 4096, maximumSpans: 4096)
        let c = pool.classes.classIndex(forSize: 500)
        var handles: [ZsHandle] = []
        for _ in 0..<(pool.classes.objectsPerSpan[c] * spans) { handles.append(try #require(pool.allocate(inClass: c))) }
        var kept: [ZsHandle] = []
        for (i, h) in handles.enumerated() {
            if i % 4 == 0 { kept.append(h) } else { pool.free(h, inClass: c) }
        }
        return (pool, kept, c)
    }

    @Test func compactionEmptiesTheSparsestSpansIntoTheOthers() throws {
        var (pool, kept, c) = try makeSparsePool(spans: 10)
        let perSpan = pool.classes.objectsPerSpan[c]
        for (i, h) in kept.enumerated() { pool.address(of: h, inClass: c).storeBytes(of: UInt32(i), as: UInt32.self) }
        let before = pool.memUsedTotal
        #expect(before == 10 * pool.spanSize(ofClass: c))
        var moved = 0
        let pages = pool.compact { compaction in
            for (i, h) in kept.enumerated() {
                guard let target = compaction.relocate(h, inClass: c, byteCount: 4) else { continue }
                kept[i] = target
                pool.free(h, inClass: c)
                moved += 1
            }
        }
        pool.checkInvariants()
        #expect(moved > 0)
        #expect(pages * 4096 == before - pool.memUsedTotal)
        #expect(pool.pagesCompacted == pages)
        let needed = (kept.count + perSpan - 1) / perSpan
        #expect(pool.memUsedTotal == needed * pool.spanSize(ofClass: c), "compaction leaves the fewest spans that hold the objects")
        for (i, h) in kept.enumerated() {
            #expect(pool.address(of: h, inClass: c).load(as: UInt32.self) == UInt32(i), "moved objects keep their bytes")
        }
        for h in kept { pool.free(h, inClass: c) }
        #expect(pool.memUsedTotal == 0)
        pool.resetStatistics()
        #expect(pool.pagesCompacted == 0)
        pool.checkInvariants()
    }

    @Test func objectsNotOfferedKeepTheirSpansAndLoseNothing() throws {
        let (pool, kept, c) = try makeSparsePool(spans: 4)
        let before = pool.memUsedTotal
        var visited = false
        #expect(pool.compact { _ in visited = true } == 0)
        #expect(visited)
        #expect(pool.memUsedTotal == before, "an owner that moves nothing frees nothing")
        pool.checkInvariants()
        for h in kept { pool.free(h, inClass: c) }
        pool.checkInvariants()
    }

    @Test func compactionWithNothingToMoveDoesNotVisit() throws {
        let pool = try ZsPool(pageSize: 4096, maximumSpans: 64)
        let c = pool.classes.classIndex(forSize: 64)
        let h = try #require(pool.allocate(inClass: c))
        var visited = false
        #expect(pool.compact { _ in visited = true } == 0)
        #expect(!visited, "one partial span per class: nothing to gain")
        pool.free(h, inClass: c)
        pool.checkInvariants()
    }
}
