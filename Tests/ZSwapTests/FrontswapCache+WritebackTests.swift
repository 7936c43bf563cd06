import Testing
import PageStore
@testable import ZSwap

#if canImport(Glibc)
import Glibc
#endif

@Suite struct FrontswapCacheWritebackTests {
    @Test func afterFillingThePoolStoresAreRefusedUntilItDropsBelowTheAcceptThreshold() throws {
        let limit = 256 << 10
        let (cache, _) = try makeCache(slots: 1024, limit: .bytes(limit), shrinkOnLimit: false, threshold: 50)
        // Fill until the pool refuses a store.
        var slot = 0
        while cache.location(of: max(slot - 1, 0)) != .file || slot == 0 {
            try cache.store(TestPage.make(slot), at: slot)
            slot += 1
            try #require(slot < 1024, "the pool never filled")
        }
        let filled = cache.frontswapStatistics
        #expect(filled.poolLimitHit >= 1)
        #expect(filled.poolTotalSize <= limit)
        let threshold = cache.acceptThresholdBytes
        #expect(threshold == limit / 2)
        // Free pool entries oldest first; a probe store is refused while the pool is above the
        // threshold, even though it is below the limit, and accepted once at or below it.
        var refusedBelowLimit = 0
        var victim = 0
        var probe = slot
        while true {
            while cache.location(of: victim) != .pool { victim += 1 }
            cache.discard(victim)
            let used = cache.frontswapStatistics.poolTotalSize
            try cache.store(TestPage.make(probe), at: probe)
            if used > threshold {
                #expect(cache.location(of: probe) == .file, "accepted at \(used) bytes, threshold \(threshold)")
                if used < limit { refusedBelowLimit += 1 }
            } else {
                #expect(cache.location(of: probe) == .pool, "refused at \(used) bytes, threshold \(threshold)")
                break
            }
            probe += 1
            try #require(probe < 1024)
        }
        #expect(refusedBelowLimit > 0)
        #expect(cache.frontswapStatistics.rejectPoolFull >= refusedBelowLimit)
        // Accepting again, until the limit is hit again.
        try cache.store(TestPage.make(probe + 1), at: probe + 1)
        #expect(cache.location(of: probe + 1) == .pool)
        cache.checkInvariants()
    }

    @Test func writebackTakesTheLeastRecentAndGivesLoadedEntriesASecondChance() throws {
        let (cache, _) = try makeCache()
        for slot in 0..<10 { try cache.store(TestPage.make(slot), at: slot) }
        #expect(cache.lruOrder() == Array((0..<10).reversed()))
        _ = try cache.load(0)
        _ = try cache.load(1)
        #expect(cache.writeBack(count: 3) == 3)
        // 0 and 1 were loaded since last considered: rotated to the head, 2, 3, 4 written back.
        #expect([2, 3, 4].allSatisfy { cache.location(of: $0) == .file })
        #expect([0, 1].allSatisfy { cache.location(of: $0) == .pool })
        #expect(cache.lruOrder() == [1, 0, 9, 8, 7, 6, 5])
        // Their second chance is used up: later passes reach them in LRU order.
        #expect(cache.writeBack(count: 5) == 5)
        #expect([5, 6, 7, 8, 9].allSatisfy { cache.location(of: $0) == .file })
        #expect(cache.lruOrder() == [1, 0])
        #expect(cache.writeBack(count: 1) == 1)
        #expect(cache.location(of: 0) == .file)
        for slot in 0..<10 { #expect(try cache.load(slot) == TestPage.make(slot)) }
        #expect(cache.frontswapStatistics.writtenBackPages == 9)
        cache.checkInvariants()
    }

    @Test func anOverwriteMakesTheEntryTheMostRecent() throws {
        let (cache, _) = try makeCache()
        for slot in 0..<4 { try cache.store(TestPage.make(slot), at: slot) }
        try cache.store(TestPage.make(0, 1), at: 0)
        #expect(cache.lruOrder() == [0, 3, 2, 1])
        cache.writeBack(count: 1)
        #expect(cache.location(of: 1) == .file)
        cache.checkInvariants()
    }

    @Test func aFailedWritebackKeepsThePageInThePoolAndReadable() throws {
        let (cache, file) = try makeCache()
        for slot in 0..<5 { try cache.store(TestPage.make(slot), at: slot) }
        file.inject(.error(errno: EIO), on: .write, when: .block(3))
        // One batch: 0, 1, 2 go to blocks 0-2; 3 fails on block 3, which 4 is then given and
        // fails on too. Both stay in the pool.
        #expect(cache.writeBack(count: 5) == 3)
        #expect(cache.location(of: 3) == .pool && cache.location(of: 4) == .pool)
        #expect(try cache.load(3) == TestPage.make(3))
        var s = cache.frontswapStatistics
        #expect(s.rejectReclaimFail == 2)
        #expect(s.failedWrites == 2)
        #expect(s.writtenBackPages == 3)
        // The failed entry went back to the head; once the fault clears it is written too.
        file.clearFaults()
        #expect(cache.writeBack(count: 5) == 2)
        s = cache.frontswapStatistics
        #expect(s.writtenBackPages == 5)
        for slot in 0..<5 { #expect(try cache.load(slot) == TestPage.make(slot)) }
        cache.checkInvariants()
    }

    @Test func aTornWritebackIsCaughtByItsChecksumWhenRetried() throws {
        let (cache, file) = try makeCache(checksums: true)
        try cache.store(TestPage.make(2), at: 2)
        file.inject(.short, on: .write, times: 1)
        #expect(cache.writeBack(count: 1) == 0)
        #expect(cache.location(of: 2) == .pool)
        #expect(cache.writeBack(count: 1) == 1)
        #expect(try cache.load(2) == TestPage.make(2))
    }

    @Test func aFullPoolShrinksOnTheStorePathKeepingRecentPagesInMemory() throws {
        let limit = 128 << 10
        let (cache, _) = try makeCache(slots: 512, limit: .bytes(limit), shrinkOnLimit: true)
        for slot in 0..<400 { try cache.store(TestPage.make(slot), at: slot) }
        let s = cache.frontswapStatistics
        #expect(s.writtenBackPages > 0)
        #expect(s.poolTotalSize <= limit)
        #expect(cache.location(of: 399) == .pool)
        #expect(cache.location(of: 0) == .file)
        for slot in 0..<400 { #expect(try cache.load(slot) == TestPage.make(slot)) }
        cache.checkInvariants()
    }

    @Test func shrinkStopsAtTheAcceptThreshold() throws {
        let (cache, _) = try makeCache(slots: 512, limit: .bytes(128 << 10), shrinkOnLimit: false, threshold: 50)
        for slot in 0..<200 { try cache.store(TestPage.make(slot), at: slot) }
        let written = cache.shrink()
        #expect(written > 0)
        #expect(cache.frontswapStatistics.poolTotalSize <= cache.acceptThresholdBytes)
        #expect(cache.shrink() == 0)  // already below
        cache.checkInvariants()
    }
}

/// ``FrontswapConfiguration/LimitPolicy/rejectNewest``: zswap's way of handling a full pool.
@Suite struct FrontswapRejectNewestTests {
    @Test func aFullPoolWritesBackOneBatchThenSendsNewStoresToTheFile() throws {
        let limit = 128 << 10
        // An accept threshold one batch of writeback cannot reach: refusals go on.
        let (cache, _) = try makeCache(slots: 2048, limit: .bytes(limit), threshold: 50, limitPolicy: .rejectNewest)
        var slot = 0
        while cache.frontswapStatistics.rejectPoolFull == 0 {
            try cache.store(TestPage.make(slot), at: slot)
            slot += 1
        }
        let firstRefused = slot - 1
        for _ in 0..<16 {
            try cache.store(TestPage.make(slot), at: slot)
            slot += 1
        }
        let s = cache.frontswapStatistics
        #expect(s.poolTotalSize <= limit)
        #expect(s.writtenBackPages > 0, "hitting the limit starts a batch of writeback")
        #expect(s.writtenBackPages <= cache.configuration.writebackBatch, "one batch, not one per refused store")
        // The newest pages went to the file; the older ones not written back stayed in memory.
        for refused in firstRefused..<slot { #expect(cache.location(of: refused) == .file) }
        #expect(cache.location(of: firstRefused - 1) == .pool)
        #expect(cache.location(of: 0) == .file, "the batch wrote back the least recently stored")
        for each in 0..<slot { #expect(try cache.load(each) == TestPage.make(each)) }
        cache.checkInvariants()
    }

    @Test func loadsThatDrainTheFragmentedPoolLetItAcceptAgainAfterCompaction() throws {
        let limit = 128 << 10
        let (cache, _) = try makeCache(slots: 2048, limit: .bytes(limit), limitPolicy: .rejectNewest)
        var slot = 0
        while cache.frontswapStatistics.rejectPoolFull == 0 {
            try cache.store(TestPage.make(slot), at: slot)
            slot += 1
        }
        // Free every other pooled page (exclusive loads): holes in every span, footprint unchanged.
        let pooled = (0..<slot).filter { cache.location(of: $0) == .pool }
        for s in pooled where s % 2 == 0 {
            _ = try cache.load(s)
            cache.slotFreeNotify(s)
        }
        // Refused stores compact the pool now and then; it then takes stores again.
        var accepted = false
        for extra in 0..<(FrontswapCache.compactEvery + 8) {
            let s = slot + extra
            try cache.store(TestPage.make(s), at: s)
            if cache.location(of: s) == .pool { accepted = true; break }
        }
        #expect(accepted, "after compaction the pool is below its accept threshold again")
        for s in pooled where s % 2 == 1 { #expect(try cache.load(s) == TestPage.make(s)) }
        cache.checkInvariants()
    }
}
