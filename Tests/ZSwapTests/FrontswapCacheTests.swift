import Testing
import PageCodecs
import PageStore
@testable import ZSwap

#if canImport(Glibc)
import Glibc
#endif

@Suite struct FrontswapCacheTests {
    @Test func aStoredPageLoadsBackFromThePool() throws {
        let (cache, file) = try makeCache()
        for slot in 0..<20 { try cache.store(TestPage.make(slot), at: slot) }
        for slot in 0..<20 {
            #expect(cache.location(of: slot) == .pool)
            #expect(try cache.load(slot) == TestPage.make(slot))
        }
        let s = cache.frontswapStatistics
        #expect(s.storedPages == 20)
        #expect(s.loads == 20)
        #expect(s.poolTotalSize > 0 && s.poolTotalSize < 20 * 4096)
        #expect(file.calls(.write) == 0)
        cache.checkInvariants()
    }

    @Test func readPageNeverDropsAndOnlySlotFreeNotifyDoes() throws {
        let (cache, _) = try makeCache()
        try cache.store(TestPage.make(5), at: 5)
        for _ in 0..<3 { #expect(try cache.load(5) == TestPage.make(5)) }
        #expect(cache.location(of: 5) == .pool)
        #expect(cache.frontswapStatistics.storedPages == 1)
        cache.slotFreeNotify(5)
        #expect(cache.location(of: 5) == .empty)
        let s = cache.frontswapStatistics
        #expect(s.exclusiveLoads == 1)
        #expect(s.notifyFree == 1)
        #expect(s.storedPages == 0)
        #expect(throws: PageStoreError.emptySlot(slot: 5)) { _ = try cache.load(5) }
        cache.checkInvariants()
    }

    @Test func slotFreeNotifyOnAFileCopyFreesAndPunchesTheBlock() throws {
        let (cache, file) = try makeCache()
        try cache.store(TestPage.make(3), at: 3)
        #expect(cache.writeBack(count: 1) == 1)
        #expect(cache.location(of: 3) == .file)
        #expect(try cache.load(3) == TestPage.make(3))
        let punchesBefore = file.calls(.punch)
        cache.slotFreeNotify(3)
        #expect(cache.location(of: 3) == .empty)
        #expect(file.calls(.punch) == punchesBefore + 1)
        #expect(cache.frontswapStatistics.exclusiveLoads == 0)  // not a pool entry
        #expect(cache.frontswapStatistics.pagesInFile == 0)
        cache.checkInvariants()
    }

    @Test func discardDropsThePoolEntryAndTheFileBlock() throws {
        let (cache, file) = try makeCache()
        try cache.store(TestPage.make(1), at: 1)
        try cache.store(TestPage.make(2), at: 2)
        cache.writeBack(count: 1)  // slot 1, the least recent
        #expect(cache.location(of: 1) == .file)
        cache.discard(1)
        cache.discard(2)
        cache.discard(3)  // empty: nothing counted
        cache.discard(-1)  // out of range: ignored
        #expect(cache.location(of: 1) == .empty && cache.location(of: 2) == .empty)
        let s = cache.frontswapStatistics
        #expect(s.invalidates == 2)
        #expect(s.storedPages == 0 && s.pagesInFile == 0)
        #expect(file.calls(.punch) == 1)
        #expect(cache.lruOrder().isEmpty)
        cache.checkInvariants()
    }

    @Test func badArgumentsAreRejectedAndChangeNothing() throws {
        let (cache, _) = try makeCache(slots: 8)
        #expect(throws: PageStoreError.slotOutOfRange(slot: 8, slotCount: 8)) { try cache.store(TestPage.make(0), at: 8) }
        #expect(throws: PageStoreError.wrongPageSize(expected: 4096, actual: 100)) {
            try cache.store([UInt8](repeating: 1, count: 100), at: 0)
        }
        #expect(throws: PageStoreError.emptySlot(slot: 0)) { _ = try cache.load(0) }
        #expect(cache.frontswapStatistics.storedPages == 0)
    }

    @Test func badConfigurationsAreRefusedWithAReason() throws {
        let file = try BackingFile.temporary(blockCount: 1)
        #expect(throws: ZSwapError.self) { _ = try FrontswapCache(FrontswapConfiguration(slotCount: 0), file: file) }
        #expect(throws: ZSwapError.self) {
            _ = try FrontswapCache(FrontswapConfiguration(slotCount: 4, poolLimit: .bytes(100)), file: file)
        }
        #expect(throws: ZSwapError.self) {
            _ = try FrontswapCache(FrontswapConfiguration(slotCount: 4, pageSize: 8192), file: file)
        }
    }

    @Test func aZstdCacheRoundTripsOrNamesTheMissingLibrary() throws {
        var configuration = FrontswapConfiguration(slotCount: 8, poolLimit: .bytes(1 << 20))
        configuration.codec = PageCodecFactory(.zstd(level: 3))
        let file = try BackingFile.temporary(blockCount: 8)
        do {
            let cache = try FrontswapCache(configuration, file: file)
            try cache.store(TestPage.make(1), at: 1)
            #expect(try cache.load(1) == TestPage.make(1))
            #expect(cache.mmStat.comprDataSize > 0 && cache.mmStat.comprDataSize < 4096)
            cache.checkInvariants()
        } catch let error as ZSwapError {
            guard case .codecUnavailable(let codec, _) = error else { Issue.record("wrong error \(error)"); return }
            #expect(codec == "zstd-3")
        }
    }

    @Test func sameFilledPagesCostNoPoolMemory() throws {
        let (cache, _) = try makeCache()
        for slot in 0..<100 { try cache.store(TestPage.make(slot, 0, .sameFilled), at: slot) }
        let s = cache.frontswapStatistics
        #expect(s.sameFilledPages == 100)
        #expect(s.storedPages == 100)
        #expect(s.poolTotalSize == 0)
        for slot in [0, 50, 99] { #expect(try cache.load(slot) == TestPage.make(slot, 0, .sameFilled)) }
    }

    @Test func incompressiblePagesAreStoredRawInThePool() throws {
        let (cache, file) = try makeCache()
        let page = TestPage.make(7, 0, .incompressible)
        try cache.store(page, at: 7)
        #expect(cache.location(of: 7) == .pool)
        #expect(cache.mmStat.comprDataSize == 4096, "one page-sized object")
        #expect(cache.poolStatistics.objects == 1)
        #expect(cache.frontswapStatistics.rawPages == 1)
        #expect(try cache.load(7) == page)
        #expect(file.calls(.write) == 0)
    }

    @Test func withoutRawStorageIncompressiblePagesGoToTheFile() throws {
        let (cache, _) = try makeCache(storeIncompressible: false)
        let page = TestPage.make(7, 0, .incompressible)
        try cache.store(page, at: 7)
        #expect(cache.location(of: 7) == .file)
        let s = cache.frontswapStatistics
        #expect(s.rejectCompressPoor == 1)
        #expect(s.storedPages == 0 && s.rawPages == 0)
        #expect(try cache.load(7) == page)
        try cache.store(TestPage.make(8), at: 8)
        #expect(cache.location(of: 8) == .pool)
        cache.checkInvariants()
    }

    @Test func aStoreTheFullPoolRefusesGoesToTheFileAndReadsBack() throws {
        let (cache, _) = try makeCache(slots: 512, limit: .bytes(64 << 10), shrinkOnLimit: false)
        for slot in 0..<200 { try cache.store(TestPage.make(slot), at: slot) }
        let s = cache.frontswapStatistics
        #expect(s.fileStores > 0)
        #expect(s.poolTotalSize <= 64 << 10)
        #expect(s.writtenBackPages == 0)
        #expect(s.rejectPoolFull + s.rejectAllocFail == s.fileStores)
        for slot in 0..<200 { #expect(try cache.load(slot) == TestPage.make(slot)) }
        #expect(cache.frontswapStatistics.fileLoads == s.fileStores)
        cache.checkInvariants()
    }

    @Test func overwritingAFileCopyMovesTheSlotBackToThePool() throws {
        let (cache, _) = try makeCache()
        try cache.store(TestPage.make(4, 1), at: 4)
        cache.writeBack(count: 1)
        #expect(cache.location(of: 4) == .file)
        try cache.store(TestPage.make(4, 2), at: 4)
        #expect(cache.location(of: 4) == .pool)
        #expect(try cache.load(4) == TestPage.make(4, 2))
        #expect(cache.frontswapStatistics.pagesInFile == 0)
        cache.checkInvariants()
    }

    @Test(arguments: [FaultInjectingBackingFile.Fault.error(errno: EIO), .short])
    func aFailedFileReadFreesNothingCountsAndARetrySucceeds(fault: FaultInjectingBackingFile.Fault) throws {
        let (cache, file) = try makeCache()
        try cache.store(TestPage.make(9), at: 9)
        cache.writeBack(count: 1)
        file.inject(fault, on: .read, when: .block(9))
        let error = #expect(throws: PageStoreError.self) { _ = try cache.load(9) }
        guard case .io(EIO, _)? = error else { Issue.record("wrong error \(String(describing: error))"); return }
        #expect(cache.location(of: 9) == .file)
        #expect(cache.frontswapStatistics.failedReads == 1)
        #expect(cache.statistics.failedReads == 1)
        file.clearFaults()
        #expect(try cache.load(9) == TestPage.make(9))
        #expect(cache.frontswapStatistics.fileLoads == 1)
        cache.checkInvariants()
    }

    @Test func aChecksumMismatchIsCorruptFreesNothingAndARetrySucceeds() throws {
        let (cache, file) = try makeCache(checksums: true)
        try cache.store(TestPage.make(11), at: 11)
        cache.writeBack(count: 1)
        file.inject(.corrupt, on: .read, when: .block(11), times: 1)
        let error = #expect(throws: PageStoreError.self) { _ = try cache.load(11) }
        guard case .corrupt(11, _)? = error else { Issue.record("wrong error \(String(describing: error))"); return }
        #expect(cache.location(of: 11) == .file)
        #expect(cache.frontswapStatistics.failedReads == 1)
        #expect(try cache.load(11) == TestPage.make(11))
    }

    @Test func withoutChecksumsACorruptReadGoesUnnoticed() throws {
        // The reason checksums exist: the same fault passes silently without them.
        let (cache, file) = try makeCache(checksums: false)
        try cache.store(TestPage.make(11), at: 11)
        cache.writeBack(count: 1)
        file.inject(.corrupt, on: .read, when: .block(11), times: 1)
        #expect(try cache.load(11) != TestPage.make(11))
    }

    @Test func aFailedDirectFileStoreKeepsTheOldPage() throws {
        let (cache, file) = try makeCache(slots: 512, limit: .bytes(64 << 10), shrinkOnLimit: false)
        try cache.store(TestPage.make(0, 1), at: 0)
        var slot = 1
        while cache.frontswapStatistics.fileStores == 0 {
            try cache.store(TestPage.make(slot), at: slot)
            slot += 1
        }
        // The pool now refuses stores: a new version of slot 0 must go to the file, which fails.
        file.inject(.error(errno: ENOSPC), on: .write)
        let error = #expect(throws: PageStoreError.self) { try cache.store(TestPage.make(0, 2), at: 0) }
        guard case .io(ENOSPC, _)? = error else { Issue.record("wrong error \(String(describing: error))"); return }
        #expect(cache.location(of: 0) == .pool)
        #expect(try cache.load(0) == TestPage.make(0, 1))
        #expect(cache.frontswapStatistics.failedWrites == 1)
        cache.checkInvariants()
    }

    @Test func backendStatisticsCarryThePoolAndFileFigures() throws {
        let (cache, _) = try makeCache()
        for slot in 0..<4 { try cache.store(TestPage.make(slot), at: slot) }
        cache.writeBack(count: 2)
        _ = try cache.load(0)
        let s = cache.statistics
        #expect(s.storedPages == 4)
        #expect(s.writtenBack == 2)
        #expect(s.fileReads == 1)
        #expect(s.memUsedTotal == cache.mmStat.memUsedTotal && s.memUsedTotal == cache.poolStatistics.memUsedTotal)
        #expect(s.origDataSize == 2 * 4096)
        #expect(cache.frontswapStatistics.lines.contains("written_back_pages 2\n"))
    }
}
