import Testing
@testable import ZSwap

@Suite struct FrontswapCacheCompactionTests {
    @Test func compactionFreesSparseSpansAndEveryPageReadsBack() throws {
        let (cache, _) = try makeCache(slots: 1024)
        for slot in 0..<1024 {
            let kind: TestPage.Kind = slot % 16 == 0 ? .sameFilled : slot % 16 == 1 ? .incompressible : .compressible
            try cache.store(TestPage.make(slot, 0, kind), at: slot)
        }
        // Free three of every four compressed pages: every span keeps a few objects.
        for slot in 0..<1024 where slot % 4 != 0 && slot % 16 > 1 { cache.discard(slot) }
        let before = cache.poolStatistics
        let pages = cache.compact()
        let after = cache.poolStatistics
        #expect(pages > 0)
        #expect(after.memUsedTotal == before.memUsedTotal - pages * 4096)
        #expect(after.objects == before.objects, "compaction moves objects, it frees none")
        #expect(after.spans < before.spans)
        #expect(cache.mmStat.pagesCompacted == pages)
        cache.checkInvariants()
        for slot in 0..<1024 where cache.location(of: slot) != .empty {
            let kind: TestPage.Kind = slot % 16 == 0 ? .sameFilled : slot % 16 == 1 ? .incompressible : .compressible
            #expect(try cache.load(slot) == TestPage.make(slot, 0, kind))
        }
        #expect(cache.compact() == 0, "a compacted pool has nothing more to give back")
    }

    @Test func entriesInTheFileAreLeftAlone() throws {
        let (cache, _) = try makeCache(slots: 64)
        for slot in 0..<64 { try cache.store(TestPage.make(slot), at: slot) }
        #expect(cache.writeBack(count: 32) == 32)
        _ = cache.compact()
        for slot in 0..<64 { #expect(try cache.load(slot) == TestPage.make(slot)) }
        #expect(cache.frontswapStatistics.pagesInFile == 32)
        cache.checkInvariants()
    }
}
