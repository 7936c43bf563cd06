import PageStore
import Synchronization
import SystemSupport
import Testing
import Workloads
@testable import Swap

/// The victim cache's frames on their own: a ring indexed by eviction stamp, one page per frame,
/// populated once.
@Suite struct VictimCacheFrameTests {
    @Test func aFrameHoldsOnePageUntilItIsEmptiedAndIsPopulatedOnce() throws {
        let cache = try VictimCache(capacity: 4, pageSize: page)
        #expect(cache.isEnabled && cache.populatedFrames == 0)
        var contents = [UInt8](repeating: 0xA5, count: page)
        // Stamp 6 lands in frame 2 (6 mod 4).
        #expect(contents.withUnsafeBytes { cache.fill(page: 17, stamp: 6, from: $0.baseAddress!) } == true)
        #expect(cache.populatedFrames == 1)
        #expect(cache.occupant(ofStamp: 6)! == (17, 6))
        #expect(cache.occupant(ofStamp: 2)! == (17, 6), "stamp 2 maps to the same frame")
        #expect(cache.occupant(ofStamp: 7) == nil)
        #expect(memcmp(cache.address(ofStamp: 6), contents, page) == 0)
        // An occupied frame takes nothing.
        contents[0] = 1
        #expect(contents.withUnsafeBytes { cache.fill(page: 3, stamp: 10, from: $0.baseAddress!) } == nil)
        #expect(cache.occupant(ofStamp: 10)! == (17, 6))
        // Emptied, it takes the next page without populating again.
        cache.empty(page: 17, stamp: 6)
        #expect(cache.occupant(ofStamp: 6) == nil)
        #expect(contents.withUnsafeBytes { cache.fill(page: 3, stamp: 10, from: $0.baseAddress!) } == false)
        #expect(cache.populatedFrames == 1)
        #expect(memcmp(cache.address(ofStamp: 10), contents, page) == 0)
        let held = cache.checkInvariants()
        #if DEBUG
        #expect(held.count == 1 && held[0] == (3, 10))
        #endif
    }

    @Test func aCacheOfNoFramesIsDisabled() throws {
        let cache = try VictimCache(capacity: 0, pageSize: page)
        #expect(!cache.isEnabled && cache.populatedFrames == 0)
        // Every stamp names the mapping's one frame: no index leaves it.
        #expect(cache.occupant(ofStamp: 12_345) == nil && cache.occupant(ofStamp: .max) == nil)
    }

    @Test func theSuggestedSizeIsAQuarterOfTheLimitRoundedDownToAPowerOfTwo() {
        #expect(SwapRegionConfiguration.suggestedVictimCachePages(residentLimit: 256 << 20) == 16_384)
        #expect(SwapRegionConfiguration.suggestedVictimCachePages(residentLimit: 100 * page) == 16)
        #expect(SwapRegionConfiguration.suggestedVictimCachePages(residentLimit: 4 * page) == 1)
        #expect(SwapRegionConfiguration.suggestedVictimCachePages(residentLimit: 3 * page) == 0)
    }
}

/// A region with a victim cache: recently evicted dirty pages stay uncompressed and unmapped,
/// a fault installs them without a read, the ring pushes its oldest page out to the backend, and
/// nothing is lost on any path.
@Suite(.serialized) struct VictimCacheRegionTests {
    /// A region of `pages` pages, `limit` resident, a victim cache of `cache` pages, in-fault
    /// reclaim (the evictions the tests count are their own).
    func makeRegion(pages: Int = 64, limit: Int = 32, cache: Int, backend: MemoryBackend) throws -> SwapRegion {
        var configuration = SwapRegionConfiguration(size: pages * page, residentLimit: limit * page)
        configuration.evictionMethod = .writeProtect
        configuration.reclaimMode = .inFault
        configuration.victimCachePages = cache
        return try SwapRegion(configuration, backend: backend)
    }

    @Test func anEvictedPageComesBackFromTheCacheWithoutARead() throws {
        guard userfaultfdAvailable() else { return }
        let backend = MemoryBackend(slotCount: 64)
        let region = try makeRegion(cache: 8, backend: backend)
        defer { region.close() }
        for p in 0..<8 { VersionedPage.fill(region.baseAddress, page: p, version: 1, pageSize: page) }
        #expect(region.evict(page: 3))
        #expect(region.state(ofPage: 3).kind == .cached)
        var s = region.statistics
        #expect(s.victimCacheFills == 1 && s.swapOuts == 0 && backend.writes.load(ordering: .relaxed) == 0)
        // The page's charge went to the frame it populated.
        #expect(s.victimCachePages == 1 && s.residentPages == 7 && region.chargedPages == 8)
        region.checkInvariants()
        #expect(VersionedPage.verify(region.baseAddress, page: 3, version: 1, pageSize: page))
        s = region.statistics
        #expect(s.victimCacheHits == 1 && s.swapIns == 0 && backend.reads.load(ordering: .relaxed) == 0)
        let state = region.state(ofPage: 3)
        #expect(state.kind == .resident && state.isDirty && state.credit == SwapTuning.refaultCredit)
        // The frame stays populated (and charged) for the next eviction.
        #expect(s.victimCachePages == 1 && region.chargedPages == 9)
        region.checkInvariants()
    }

    @Test func theRingPushesItsOldestPageOutToTheBackend() throws {
        guard userfaultfdAvailable() else { return }
        let backend = MemoryBackend(slotCount: 64)
        let region = try makeRegion(cache: 4, backend: backend)
        defer { region.close() }
        for p in 0..<8 { VersionedPage.fill(region.baseAddress, page: p, version: 1, pageSize: page) }
        for p in 0..<4 { #expect(region.evict(page: p)) }
        #expect(backend.writes.load(ordering: .relaxed) == 0)
        // Page 4's stamp (4) maps to page 0's frame: page 0 is compressed first.
        #expect(region.evict(page: 4))
        #expect(region.state(ofPage: 0).kind == .swapped)
        for p in 1...4 { #expect(region.state(ofPage: p).kind == .cached) }
        var s = region.statistics
        #expect(s.swapOuts == 1 && s.victimCacheFills == 5 && backend.writes.load(ordering: .relaxed) == 1)
        #expect(s.victimCachePages == 4 && region.chargedPages == 3 + 4)
        region.checkInvariants()
        for p in 0..<8 { #expect(VersionedPage.verify(region.baseAddress, page: p, version: 1, pageSize: page), "page \(p)") }
        s = region.statistics
        #expect(s.swapIns == 1 && s.victimCacheHits == 4)
        region.checkInvariants()
    }

    @Test func aBackendThatRefusesThePushedOutPageLosesNothing() throws {
        guard userfaultfdAvailable() else { return }
        let backend = MemoryBackend(slotCount: 64)
        let region = try makeRegion(cache: 2, backend: backend)
        defer { region.close() }
        for p in 0..<4 { VersionedPage.fill(region.baseAddress, page: p, version: 1, pageSize: page) }
        #expect(region.evict(page: 0) && region.evict(page: 1))
        backend.refusingWrites.store(true, ordering: .relaxed)
        // Page 2 needs page 0's frame, and page 0 cannot go to the backend: both stay.
        #expect(!region.evict(page: 2))
        #expect(region.state(ofPage: 0).kind == .cached && region.state(ofPage: 2).kind == .resident)
        #expect(region.statistics.failedEvictions >= 1)
        region.checkInvariants()
        backend.refusingWrites.store(false, ordering: .relaxed)
        // The refused eviction spent stamp 2: page 2 now gets stamp 3, page 1's frame.
        #expect(region.evict(page: 2))
        #expect(region.state(ofPage: 1).kind == .swapped && region.state(ofPage: 2).kind == .cached)
        #expect(region.state(ofPage: 0).kind == .cached)
        region.checkInvariants()
        for p in 0..<4 { #expect(VersionedPage.verify(region.baseAddress, page: p, version: 1, pageSize: page), "page \(p)") }
        region.checkInvariants()
    }

    @Test func aSnapshotReadsCachedPagesFromTheirFrames() throws {
        guard userfaultfdAvailable() else { return }
        let backend = MemoryBackend(slotCount: 64)
        let region = try makeRegion(cache: 4, backend: backend)
        defer { region.close() }
        for p in 0..<6 { VersionedPage.fill(region.baseAddress, page: p, version: 2, pageSize: page) }
        for p in 0..<6 { #expect(region.evict(page: p)) }  // pages 0 and 1 pushed out, 2...5 cached
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: region.size, alignment: page)
        defer { buffer.deallocate() }
        try region.snapshot(into: buffer)
        for p in 0..<6 { #expect(VersionedPage.verify(UnsafeRawPointer(buffer.baseAddress!), page: p, version: 2, pageSize: page), "page \(p)") }
        // A snapshot is not a fault: nothing came back.
        #expect(region.statistics.victimCacheHits == 0 && region.statistics.swapIns == 0)
        region.checkInvariants()
    }

    /// Every fault and reclaim mode keeps every write with the cache on, under four threads
    /// that touch their own pages at random: pages go round the ring, come back from it and from
    /// the backend.
    @Test(arguments: SwapRegionConfiguration.FaultMode.allCases, SwapRegionConfiguration.ReclaimMode.allCases)
    func everyModeKeepsEveryWrite(fault: SwapRegionConfiguration.FaultMode, reclaim: SwapRegionConfiguration.ReclaimMode) throws {
        guard userfaultfdAvailable() else { return }
        let threads = 4, pagesPerThread = 128
        let backend = MemoryBackend(slotCount: threads * pagesPerThread)
        var configuration = SwapRegionConfiguration(size: threads * pagesPerThread * page, residentLimit: 128 * page)
        configuration.faultMode = fault
        configuration.reclaimMode = reclaim
        configuration.victimCachePages = 32
        let region = try SwapRegion(configuration, backend: backend)
        defer { region.close() }
        let base = UInt(bitPattern: region.baseAddress)
        let mismatches = Atomic<Int>(0)
        onThreads(threads) { t in
            let base = UnsafeMutableRawPointer(bitPattern: base)!
            var versions = [UInt32](repeating: 1, count: pagesPerThread)
            for i in 0..<pagesPerThread { VersionedPage.fill(base, page: t * pagesPerThread + i, version: 1, pageSize: page) }
            var rng = SplitMix64(seed: UInt64(t + 1))
            for _ in 0..<4_000 {
                // Half the touches on an eighth of the pages: some pages are hot.
                let i = rng.next() % 2 == 0 ? Int(rng.next() % UInt64(pagesPerThread / 8)) : Int(rng.next() % UInt64(pagesPerThread))
                let p = t * pagesPerThread + i
                if rng.next() % 3 == 0 {
                    versions[i] += 1
                    VersionedPage.fill(base, page: p, version: versions[i], pageSize: page)
                } else if !VersionedPage.verify(base, page: p, version: versions[i], pageSize: page) {
                    mismatches.add(1, ordering: .relaxed)
                }
            }
            for i in 0..<pagesPerThread where !VersionedPage.verify(base, page: t * pagesPerThread + i, version: versions[i], pageSize: page) {
                mismatches.add(1, ordering: .relaxed)
            }
        }
        #expect(mismatches.load(ordering: .relaxed) == 0)
        let s = region.statistics
        #expect(s.victimCacheFills > 0 && s.victimCacheHits > 0 && s.swapIns > 0,
                "fills \(s.victimCacheFills), hits \(s.victimCacheHits), swap-ins \(s.swapIns)")
        region.checkInvariants()
    }

    /// A thread keeps writing a counter into a page while another evicts it again and again
    /// into the cache (a frame of four, so it also goes round to the slow backend): a write
    /// lands before the protection (and is copied) or traps, waits for the page lock and finds
    /// the page cached. None may be lost.
    @Test func aWriteThatLandsWhileThePageGoesToTheCacheIsNeverLost() throws {
        guard userfaultfdAvailable() else { return }
        let backend = MemoryBackend(slotCount: 64)
        backend.writeDelayMicroseconds.store(300, ordering: .relaxed)
        let region = try makeRegion(pages: 64, limit: 16, cache: 4, backend: backend)
        defer { region.close() }
        for p in 0..<12 { VersionedPage.fill(region.baseAddress, page: p, version: 1, pageSize: page) }
        let target = 7
        let base = UInt(bitPattern: region.baseAddress)
        let writer = CounterWriter(address: base + UInt(target * page))
        let evictions = Atomic<Int>(0)
        let evictor = Thread { [region] in
            // The target and, now and then, other pages (so the ring turns and pushes out).
            let start = MonotonicClock.nanoseconds()
            var other = 0
            while evictions.load(ordering: .relaxed) < 30 && MonotonicClock.nanoseconds() - start < 10_000_000_000 {
                if region.evict(page: target) { evictions.add(1, ordering: .relaxed) }
                other = (other + 1) % 12
                if other != target { _ = region.evict(page: other) }
                usleep(100)
            }
        }
        evictor.join()
        let (lost, last) = writer.stop()
        #expect(lost == 0)
        #expect(UnsafeMutablePointer<UInt64>(bitPattern: base + UInt(target * page))!.pointee == last)
        #expect(evictions.load(ordering: .relaxed) >= 30)
        let s = region.statistics
        // Each eviction of the target came back before the next one: from the ring, or from the
        // backend when the ring went round first (a writer slow to run under load).
        #expect(s.victimCacheFills >= 30 && s.victimCacheHits > 0 && s.victimCacheHits + s.swapIns >= 30 && s.swapOuts > 0,
                "fills \(s.victimCacheFills), hits \(s.victimCacheHits), swap-ins \(s.swapIns), swap-outs \(s.swapOuts)")
        region.checkInvariants()
    }

    @Test func theConfigurationIsChecked() throws {
        let backend = MemoryBackend(slotCount: 64)
        var configuration = SwapRegionConfiguration(size: 64 * page, residentLimit: 32 * page)
        for bad in [3, 32, -4] {
            configuration.victimCachePages = bad
            #expect(throws: SwapError.invalidConfiguration(
                "a victim cache of \(bad) pages: give 0 (none) or a power of two of at most half the resident limit (16 pages)")) {
                _ = try SwapRegion(configuration, backend: backend)
            }
        }
        configuration.victimCachePages = 8
        configuration.evictionMethod = .move
        #expect(throws: SwapError.invalidConfiguration(
            "the victim cache is filled by eviction by write protection: set victimCachePages to 0 with eviction by move")) {
            _ = try SwapRegion(configuration, backend: backend)
        }
    }
}
