import SystemSupport
import Testing

@testable import ZsPool

@Suite struct ZsPoolTests {
    func makePool(spans: Int = 4096, limit: Int = 0, pageSize: Int = 4096) throws -> ZsPool {
        try ZsPool(pageSize: pageSize, maximumSpans: spans, memoryLimit: limit)
    }

    @Test(arguments: [4096, 65536])
    func everyClassAllocatesWritesReadsBackAndFreesToZero(pageSize: Int) throws {
        let pool = try makePool(spans: 8192, pageSize: pageSize)
        var live: [(handle: ZsHandle, classIndex: Int, tag: UInt8)] = []
        for c in 0..<pool.classes.count {
            let count = pool.classes.objectsPerSpan[c] + 1  // fill a span and start the next
            for k in 0..<count {
                let handle = try #require(pool.allocate(inClass: c))
                let tag = UInt8(truncatingIfNeeded: c &* 31 &+ k) | 1
                let bytes = [UInt8](repeating: tag, count: pool.objectSize(ofClass: c))
                bytes.withUnsafeBytes { pool.write($0, to: handle, inClass: c) }
                live.append((handle, c, tag))
            }
        }
        pool.checkInvariants()
        #expect(pool.objectCount == live.count)
        // A full span commits all its pages; the next span only the page its one object uses.
        let expected = (0..<pool.classes.count).reduce(0) { $0 + pool.spanSize(ofClass: $1) + pageSize }
        #expect(pool.memUsedTotal == expected)
        // No two objects overlap: each still holds its own tag everywhere.
        for object in live {
            let bytes = pool.bytes(of: object.handle, inClass: object.classIndex, count: pool.objectSize(ofClass: object.classIndex))
            #expect(bytes.allSatisfy { $0 == object.tag })
        }
        for object in live { pool.free(object.handle, inClass: object.classIndex) }
        pool.checkInvariants()
        #expect(pool.memUsedTotal == 0)
        #expect(pool.spanCount == 0)
        #expect(pool.memUsedMax == expected)
    }

    @Test func freedObjectsAreReusedBeforeANewSpanIsTaken() throws {
        let pool = try makePool()
        let c = pool.classes.classIndex(forSize: 100)
        let perSpan = pool.classes.objectsPerSpan[c]
        var handles = (0..<perSpan).compactMap { _ in pool.allocate(inClass: c) }
        #expect(handles.count == perSpan)
        #expect(pool.memUsedTotal == pool.spanSize(ofClass: c))
        pool.free(handles[3], inClass: c)
        let again = try #require(pool.allocate(inClass: c))
        #expect(again == handles[3])
        #expect(pool.memUsedTotal == pool.spanSize(ofClass: c))
        handles[3] = again
        for h in handles { pool.free(h, inClass: c) }
        pool.checkInvariants()
    }

    @Test func aSpanCommitsPagesOnlyAsItsObjectsReachThem() throws {
        let pool = try makePool()
        let c = pool.classes.classIndex(forSize: 3000)
        let size = pool.objectSize(ofClass: c)
        #expect(pool.classes.pagesPerSpan[c] > 2)
        var handles: [ZsHandle] = []
        for k in 0..<pool.classes.objectsPerSpan[c] {
            handles.append(try #require(pool.allocate(inClass: c)))
            let reached = ((k + 1) * size + 4095) / 4096
            #expect(pool.memUsedTotal == reached * 4096, "after \(k + 1) objects")
        }
        #expect(pool.memUsedTotal == pool.spanSize(ofClass: c))
        #expect(pool.zsmallocEquivalentBytes == pool.spanSize(ofClass: c))
        pool.checkInvariants()
        for h in handles { pool.free(h, inClass: c) }
        #expect(pool.memUsedTotal == 0)
    }

    @Test func anEmptiedSpanGoesBackToTheSystemAtOnce() throws {
        let pool = try makePool()
        let c = pool.classes.classIndex(forSize: 1000)
        let handle = try #require(pool.allocate(inClass: c))
        [UInt8](repeating: 0xAB, count: 1000).withUnsafeBytes { pool.write($0, to: handle, inClass: c) }
        let first = UnsafeRawPointer(pool.address(of: handle, inClass: c))
        #expect(residentPages(pool) == 1)
        pool.free(handle, inClass: c)
        #expect(residentPages(pool) == 0, "MADV_DONTNEED gave the page back")
        let again = try #require(pool.allocate(inClass: c))
        #expect(UnsafeRawPointer(pool.address(of: again, inClass: c)) == first, "the span index is reused")
        #expect(pool.bytes(of: again, inClass: c, count: 1000).allSatisfy { $0 == 0 }, "a returned page reads as zeros")
        pool.free(again, inClass: c)
        pool.checkInvariants()
    }

    @Test func allocationPastTheLimitFailsAndLeavesUseUnchanged() throws {
        let pool = try makePool(limit: 4096 * 3)
        let huge = pool.classes.hugeClassIndex
        let handles = (0..<3).compactMap { _ in pool.allocate(inClass: huge) }
        #expect(handles.count == 3)
        #expect(pool.allocate(inClass: huge) == nil)
        #expect(pool.memUsedTotal == 4096 * 3)
        pool.free(handles[0], inClass: huge)
        #expect(pool.allocate(inClass: huge) != nil)
        pool.checkInvariants()
    }

    @Test func withoutGrowingOnlyRoomInExistingSpansIsHandedOut() throws {
        let pool = try makePool()
        let c = pool.classes.classIndex(forSize: 64)
        #expect(pool.allocate(inClass: c, mayGrow: false) == nil)
        let first = try #require(pool.allocate(inClass: c))
        let second = try #require(pool.allocate(inClass: c, mayGrow: false))
        #expect(pool.spanCount == 1)
        pool.free(first, inClass: c)
        pool.free(second, inClass: c)
        pool.checkInvariants()
    }

    @Test func exhaustedSpanIndicesFailCleanly() throws {
        let pool = try makePool(spans: 2)
        let huge = pool.classes.hugeClassIndex
        #expect(pool.allocate(inClass: huge) != nil)
        #expect(pool.allocate(inClass: huge) != nil)
        #expect(pool.allocate(inClass: huge) == nil)
        #expect(pool.memUsedTotal == 2 * 4096)
        pool.checkInvariants()
    }

    @Test func aPoolSizedForObjectsHoldsThatManyOfTheLargestClass() throws {
        let pool = try ZsPool(pageSize: 4096, holding: 10)
        let huge = pool.classes.hugeClassIndex
        let handles = (0..<10).compactMap { _ in pool.allocate(inClass: huge) }
        #expect(handles.count == 10)
        #expect(pool.maximumSpans >= 10 + pool.classes.count)
        for h in handles { pool.free(h, inClass: huge) }
        pool.checkInvariants()
    }

    @Test func statisticsGatherEveryFigure() throws {
        let pool = try makePool(limit: 1 << 20)
        let c = pool.classes.classIndex(forSize: 2000)
        let a = try #require(pool.allocate(inClass: c))
        let b = try #require(pool.allocate(inClass: c))
        pool.free(a, inClass: c)
        let s = pool.statistics
        #expect(s.objects == 1 && s.spans == 1)
        #expect(s.memUsedTotal == pool.memUsedTotal && s.memUsedMax == pool.memUsedMax)
        #expect(s.memLimit == 1 << 20)
        #expect(s.pagesCompacted == 0)
        #expect(s.zsmallocEquivalentBytes == pool.spanSize(ofClass: c))
        #expect(s.metadataBytes == pool.metadataBytes && s.metadataBytes >= pool.maximumSpans * 20)
        pool.free(b, inClass: c)
        pool.resetMemUsedMax()
        #expect(pool.memUsedMax == 0)
    }

    @Test(arguments: [(2048, 1), (4096 + 1, 1), (8192, 0)])
    func badPageSizesAndSpanCountsAreRefusedWithAReason(pageSize: Int, spans: Int) {
        #expect(throws: ZsPoolError.self) { _ = try ZsPool(pageSize: pageSize, maximumSpans: spans) }
    }

    @Test func aNegativeLimitIsRefused() {
        #expect(throws: ZsPoolError.self) { _ = try ZsPool(pageSize: 4096, holding: 1, memoryLimit: -1) }
    }

    /// Resident pages of the pool's range (mincore).
    func residentPages(_ pool: ZsPool) -> Int {
        let range = pool.reservation
        var vector = [UInt8](repeating: 0, count: range.count / AnonymousMapping.pageSize)
        let result = vector.withUnsafeMutableBufferPointer {
            mincore(UnsafeMutableRawPointer(mutating: range.baseAddress!), range.count, $0.baseAddress!)
        }
        guard result == 0 else { return -1 }
        return vector.reduce(0) { $0 + Int($1 & 1) }
    }
}
