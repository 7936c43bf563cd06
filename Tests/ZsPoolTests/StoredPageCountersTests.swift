import Testing

@testable import ZsPool

@Suite struct StoredPageCountersTests {
    @Test func storesAndFreesMoveEveryCounterTheKernelsWay() {
        let counters = StoredPageCounters()
        counters.addSameFilled()
        counters.addObject(size: 1000, huge: false)
        counters.addObject(size: 4096, huge: true)
        counters.addElsewhere(1)
        #expect(counters.pagesStored == 4)
        #expect(counters.samePages == 1)
        #expect(counters.comprDataSize == 5096)
        #expect(counters.hugePages == 1 && counters.hugePagesSince == 1)
        counters.removeObject(size: 4096, huge: true)
        #expect(counters.hugePages == 0 && counters.hugePagesSince == 1, "huge_pages_since only grows")
        counters.replaceObject(size: 1000, huge: false, with: 600)
        #expect(counters.comprDataSize == 600 && counters.pagesStored == 3)
        counters.removeSameFilled()
        counters.addElsewhere(-1)
        #expect(counters.pagesStored == 1 && counters.samePages == 0)
        counters.reset()
        #expect(counters.pagesStored == 0 && counters.comprDataSize == 0 && counters.hugePagesSince == 0)
    }

    @Test func mmStatJoinsTheCountersWithThePoolsFigures() throws {
        let pool = try ZsPool(pageSize: 4096, holding: 4, memoryLimit: 8192)
        let counters = StoredPageCounters()
        let c = pool.classes.classIndex(forSize: 900)
        let handle = try #require(pool.allocate(inClass: c))
        counters.addObject(size: 900, huge: false)
        counters.addSameFilled()
        let stat = counters.mmStat(pool: pool, pageSize: 4096)
        #expect(stat.origDataSize == 2 * 4096)
        #expect(stat.comprDataSize == 900)
        #expect(stat.memUsedTotal == 4096 && stat.memUsedMax == 4096)
        #expect(stat.memLimit == 8192)
        #expect(stat.samePages == 1 && stat.hugePages == 0 && stat.pagesCompacted == 0)
        pool.free(handle, inClass: c)
    }
}
