import Testing

@testable import ZRAM

@Suite struct ZsPoolTests {
    func makePool(spans: Int = 4096, limit: Int = 0, pageSize: Int = 4096) throws -> ZsPool {
        try #require(ZsPool(pageSize: pageSize, maximumSpans: spans, memoryLimit: limit))
    }

    @Test(arguments: [4096, 65536])
    func everyClassAllocatesWritesReadsBackAndFreesToZero(pageSize: Int) throws {
        let pool = try makePool(spans: 8192, pageSize: pageSize)
        var live: [(handle: UInt64, classIndex: Int, tag: UInt8)] = []
        for c in 0..<pool.classes.count {
            let count = pool.classes.objectsPerSpan[c] + 1  // fill a span and start the next
            for k in 0..<count {
                let handle = try #require(pool.allocate(inClass: c))
                let tag = UInt8(truncatingIfNeeded: c &* 31 &+ k) | 1
                pool.address(of: handle, inClass: c).initializeMemory(as: UInt8.self, repeating: tag, count: pool.objectSize(ofClass: c))
                live.append((handle, c, tag))
            }
        }
        pool.checkInvariants()
        #expect(pool.objectCount == live.count)
        // A full span commits all its pages; the next span only the page its one object uses.
        let expected = (0..<pool.classes.count).reduce(0) { $0 + pool.spanSize(ofClass: $1) + pageSize }
        #expect(pool.memUsed == expected)
        // No two objects overlap: each still holds its own tag everywhere.
        for object in live {
            let bytes = UnsafeRawBufferPointer(start: pool.address(of: object.handle, inClass: object.classIndex), count: pool.objectSize(ofClass: object.classIndex))
            #expect(bytes.allSatisfy { $0 == object.tag })
        }
        for object in live { pool.free(object.handle, inClass: object.classIndex) }
        pool.checkInvariants()
        #expect(pool.memUsed == 0)
        #expect(pool.spanCount == 0)
        #expect(pool.memUsedMax == expected)
    }

    @Test func freedObjectsAreReusedBeforeANewSpanIsTaken() throws {
        let pool = try makePool()
        let c = pool.classes.classIndex(forSize: 100)
        let perSpan = pool.classes.objectsPerSpan[c]
        var handles = (0..<perSpan).compactMap { _ in pool.allocate(inClass: c) }
        #expect(handles.count == perSpan)
        #expect(pool.memUsed == pool.spanSize(ofClass: c))
        pool.free(handles[3], inClass: c)
        let again = try #require(pool.allocate(inClass: c))
        #expect(again == handles[3])
        #expect(pool.memUsed == pool.spanSize(ofClass: c))
        handles[3] = again
        for h in handles { pool.free(h, inClass: c) }
        pool.checkInvariants()
    }

    @Test func aSpanCommitsPagesOnlyAsItsObjectsReachThem() throws {
        let pool = try makePool()
        let c = pool.classes.classIndex(forSize: 3000)
        let size = pool.objectSize(ofClass: c)
        #expect(pool.classes.pagesPerSpan[c] > 2)
        var handles: [UInt64] = []
        for k in 0..<pool.classes.objectsPerSpan[c] {
            handles.append(try #require(pool.allocate(inClass: c)))
            let reached = ((k + 1) * size + 4095) / 4096
            #expect(pool.memUsed == reached * 4096, "after \(k + 1) objects")
        }
        #expect(pool.memUsed == pool.spanSize(ofClass: c))
        pool.checkInvariants()
        for h in handles { pool.free(h, inClass: c) }
        #expect(pool.memUsed == 0)
    }

    @Test func allocationPastTheLimitFailsAndLeavesUseUnchanged() throws {
        let pool = try makePool(limit: 4096 * 3)
        let huge = pool.classes.hugeClassIndex
        let handles = (0..<3).compactMap { _ in pool.allocate(inClass: huge) }
        #expect(handles.count == 3)
        #expect(pool.allocate(inClass: huge) == nil)
        #expect(pool.memUsed == 4096 * 3)
        pool.free(handles[0], inClass: huge)
        #expect(pool.allocate(inClass: huge) != nil)
        pool.checkInvariants()
    }

    @Test func exhaustedSpanIndicesFailCleanly() throws {
        let pool = try makePool(spans: 2)
        let huge = pool.classes.hugeClassIndex
        #expect(pool.allocate(inClass: huge) != nil)
        #expect(pool.allocate(inClass: huge) != nil)
        #expect(pool.allocate(inClass: huge) == nil)
        #expect(pool.memUsed == 2 * 4096)
        pool.checkInvariants()
    }

    @Test func compactionEmptiesTheSparsestSpansIntoTheOthers() throws {
        let pool = try makePool()
        let c = pool.classes.classIndex(forSize: 500)
        let perSpan = pool.classes.objectsPerSpan[c]
        var handles: [UInt64] = []
        for _ in 0..<(perSpan * 10) { handles.append(try #require(pool.allocate(inClass: c))) }
        // Keep every fourth object: ten spans, each a quarter full.
        var kept: [UInt64] = []
        for (i, h) in handles.enumerated() {
            if i % 4 == 0 { kept.append(h) } else { pool.free(h, inClass: c) }
        }
        let before = pool.memUsed
        #expect(before == 10 * pool.spanSize(ofClass: c))
        let sources = pool.beginCompaction()
        #expect(!sources.isEmpty)
        var moved = 0
        for (i, h) in kept.enumerated() {
            pool.address(of: h, inClass: c).storeBytes(of: UInt32(i), as: UInt32.self)
            if let target = pool.relocationTarget(for: h, inClass: c) {
                pool.address(of: target, inClass: c).copyMemory(from: pool.address(of: h, inClass: c), byteCount: pool.objectSize(ofClass: c))
                pool.free(h, inClass: c)
                kept[i] = target
                moved += 1
            }
        }
        let freed = pool.endCompaction(sources)
        pool.checkInvariants()
        #expect(moved > 0)
        #expect(freed == before - pool.memUsed)
        let needed = (kept.count + perSpan - 1) / perSpan
        #expect(pool.memUsed == needed * pool.spanSize(ofClass: c), "compaction leaves the fewest spans that hold the objects")
        for (i, h) in kept.enumerated() {
            #expect(pool.address(of: h, inClass: c).load(as: UInt32.self) == UInt32(i))
        }
        for h in kept { pool.free(h, inClass: c) }
        #expect(pool.memUsed == 0)
        pool.checkInvariants()
    }

    @Test func compactionWithNothingToMoveChoosesNoSources() throws {
        let pool = try makePool()
        let c = pool.classes.classIndex(forSize: 64)
        let h = try #require(pool.allocate(inClass: c))
        #expect(pool.beginCompaction().isEmpty)
        pool.free(h, inClass: c)
        pool.checkInvariants()
    }
}
