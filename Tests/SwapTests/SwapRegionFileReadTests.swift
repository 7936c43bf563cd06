import PageStore
import Synchronization
import SystemSupport
import Testing
import Workloads
import ZSwap
@testable import Swap

/// A region over a FrontswapCache whose pool holds a few pages, so that swapped pages live in a
/// backing file: file reads inline and on I/O threads, retries, failures that free nothing.
@Suite(.serialized) struct SwapRegionFileReadTests {
    typealias FileReads = SwapRegionConfiguration.FileReads
    typealias FaultMode = SwapRegionConfiguration.FaultMode

    static let readModes: [FileReads] = [.inline, .ioThreads(1), .ioThreads(2)]

    struct Tier {
        let region: SwapRegion
        let cache: FrontswapCache
        let file: FaultInjectingBackingFile
        let backing: BackingFile

        func close() {
            region.close()
            backing.close()
        }
    }

    func makeTier(pages: Int, limit: Int, reads: FileReads, mode: FaultMode, retries: Int = 2) throws -> Tier {
        let backing = try BackingFile.temporary(blockCount: pages * 2)
        let file = FaultInjectingBackingFile(wrapping: backing)
        var frontswap = FrontswapConfiguration(slotCount: pages * 2, poolLimit: .bytes(4 * page))
        frontswap.checksums = true
        let cache = try FrontswapCache(frontswap, file: file)
        var configuration = SwapRegionConfiguration(size: pages * page, residentLimit: limit * page, policy: .freeOnSwapIn)
        configuration.fileReads = reads
        configuration.faultMode = mode
        configuration.readRetries = retries
        configuration.readRetryPauseMicroseconds = 50
        // These tests count each read, retry and free: no background evictions beside them.
        configuration.reclaimMode = .inFault
        do {
            return Tier(region: try SwapRegion(configuration, backend: cache), cache: cache, file: file, backing: backing)
        } catch {
            backing.close()
            throw error
        }
    }

    /// Page `p` at version `v` (Workloads' versioned pages: they compress about 2:1).
    func fill(_ region: SwapRegion, page p: Int, version v: UInt32 = 1) {
        VersionedPage.fill(region.baseAddress, page: p, version: v, pageSize: page)
    }

    func matches(_ region: SwapRegion, page p: Int, version v: UInt32 = 1) -> Bool {
        VersionedPage.verify(region.baseAddress, page: p, version: v, pageSize: page)
    }

    /// A swapped page whose copy is in the file, and its slot.
    func pageInFile(_ tier: Tier, pages: Int) -> (page: Int, slot: Int)? {
        for p in 0..<pages {
            if let slot = tier.region.swapSlot(ofPage: p), tier.cache.location(of: slot) == .file { return (p, slot) }
        }
        return nil
    }

    @Test(arguments: readModes, FaultMode.allCases)
    func pagesInTheFileComeBackIntactThroughEachReadPath(reads: FileReads, mode: FaultMode) throws {
        guard userfaultfdAvailable() else { return }
        let pages = 384
        let tier = try makeTier(pages: pages, limit: 48, reads: reads, mode: mode)
        defer { tier.close() }
        for p in 0..<pages { fill(tier.region, page: p) }
        var bad = 0
        for round in 0..<2 { for p in stride(from: round, to: pages, by: 2) where !matches(tier.region, page: p) { bad += 1 } }
        for p in stride(from: 0, to: pages, by: 3) { fill(tier.region, page: p, version: 2) }
        for p in 0..<pages where !matches(tier.region, page: p, version: p % 3 == 0 ? 2 : 1) { bad += 1 }
        #expect(bad == 0)
        let s = tier.region.statistics
        let z = tier.cache.frontswapStatistics
        #expect(z.fileLoads > pages / 2, "the pool holds 4 pages: most swap-ins read the file")
        // The hint is taken before the charge, whose writeback may still move this slot's
        // pool entry to the file: a few file loads may have been hinted as pool reads.
        let hinted = s.fileReads + s.inlineFileReads
        #expect(hinted <= z.fileLoads && hinted >= z.fileLoads * 9 / 10)
        switch reads {
        case .inline:
            #expect(s.fileReads == 0)
        case .ioThreads:
            // One application thread: never more reads in flight than request slots.
            #expect(s.inlineFileReads == 0)
            #expect(s.fileReadWaits <= s.fileReads)
        }
        #expect(s.fileSwapInLatency.count == hinted)
        #expect(s.failedReads == 0 && s.readRetries == 0 && s.failedFaults == 0)
        #expect(s.notifyFree == s.swapIns, "free on swap-in: every installed page freed its copy")
        #expect(s.residentMaxPages <= 48)
        tier.region.checkInvariants()
        tier.cache.checkInvariants()
    }

    @Test(arguments: readModes, [FaultInjectingBackingFile.Fault.error(errno: EIO), .short, .corrupt])
    func aFileReadThatFailsOnceIsRetriedAndThePageComesBackRight(reads: FileReads, fault: FaultInjectingBackingFile.Fault) throws {
        guard userfaultfdAvailable() else { return }
        let pages = 96
        let tier = try makeTier(pages: pages, limit: 16, reads: reads, mode: .signal)
        defer { tier.close() }
        for p in 0..<pages { fill(tier.region, page: p) }
        let (target, slot) = try #require(pageInFile(tier, pages: pages))
        tier.region.resetStatistics()
        let block = try #require(tier.cache.fileBlock(of: slot))
        tier.file.inject(fault, on: .read, when: .block(block), times: 1)
        #expect(matches(tier.region, page: target))
        let s = tier.region.statistics
        #expect(s.failedReads == 1)
        #expect(s.readRetries == 1)
        #expect(s.failedFaults == 0)
        #expect(s.swapIns == 1)
        #expect(tier.file.injectedFaults(.read) == 1)
        #expect(tier.cache.frontswapStatistics.failedReads == 1)
        // Installed, so the copy went (free on swap-in) and nothing else was lost.
        #expect(tier.cache.location(of: slot) == .empty)
        for p in 0..<pages where p != target { #expect(matches(tier.region, page: p)) }
        tier.region.checkInvariants()
        tier.cache.checkInvariants()
    }

    @Test(arguments: readModes, FaultMode.allCases)
    func aFileReadThatKeepsFailingFreesNothingAndTheDataSurvives(reads: FileReads, mode: FaultMode) throws {
        guard userfaultfdAvailable() else { return }
        let pages = 96
        let tier = try makeTier(pages: pages, limit: 16, reads: reads, mode: mode, retries: 2)
        defer { tier.close() }
        for p in 0..<pages { fill(tier.region, page: p) }
        let (target, slot) = try #require(pageInFile(tier, pages: pages))
        tier.region.resetStatistics()
        tier.file.inject(.error(errno: EIO), on: .read, when: .block(try #require(tier.cache.fileBlock(of: slot))))
        // prefault serves the fault as a touch would, but reports instead of raising SIGBUS.
        #expect(throws: SwapError.self) { try tier.region.prefault(target * page..<(target + 1) * page) }
        let s = tier.region.statistics
        #expect(s.failedReads == 3)
        #expect(s.readRetries == 2)
        #expect(s.failedFaults == 1)
        #expect(s.swapIns == 0 && s.notifyFree == 0)
        #expect(tier.file.injectedFaults(.read) == 3)
        #expect(tier.region.swapSlot(ofPage: target) == slot, "the page is still swapped in the same slot")
        #expect(tier.cache.location(of: slot) == .file, "the backend still holds the copy")
        #expect(tier.region.slots.useCount(slot) == 1)
        #expect(tier.region.chargedPages == s.residentPages + s.stagedPages)
        tier.region.checkInvariants()
        // The disk recovers: the same page reads back right.
        tier.file.clearFaults()
        #expect(matches(tier.region, page: target))
        #expect(tier.cache.location(of: slot) == .empty)
        tier.region.checkInvariants()
        tier.cache.checkInvariants()
    }

    /// A slow disk: while the read is in flight the page stays swapped, the backend keeps its
    /// copy and the slot has the reader's reference; only after the install is the copy freed.
    @Test(arguments: readModes, FaultMode.allCases)
    func theSlotIsFreedOnlyAfterTheDelayedReadInstallsThePage(reads: FileReads, mode: FaultMode) throws {
        guard userfaultfdAvailable() else { return }
        let pages = 96
        let tier = try makeTier(pages: pages, limit: 16, reads: reads, mode: mode)
        defer { tier.close() }
        for p in 0..<pages { fill(tier.region, page: p) }
        let (target, slot) = try #require(pageInFile(tier, pages: pages))
        tier.file.inject(.delay(microseconds: 300_000), on: .read, when: .block(try #require(tier.cache.fileBlock(of: slot))), times: 1)
        let region = tier.region
        let sawRight = Atomic<Bool>(false)
        let toucher = Thread { [self] in sawRight.store(matches(region, page: target), ordering: .relaxed) }
        // Wait until the read is in flight (the injected delay has begun).
        let start = MonotonicClock.nanoseconds()
        while tier.file.injectedFaults(.read) == 0 && MonotonicClock.nanoseconds() - start < 5_000_000_000 { usleep(1000) }
        #expect(tier.file.injectedFaults(.read) == 1)
        usleep(50_000)
        let during = region.state(ofPage: target)
        #expect(during.kind == .swapped && during.isLocked)
        #expect(tier.cache.location(of: slot) == .file, "the backend keeps its copy while the read is in flight")
        #expect(region.slots.useCount(slot) == 2, "the page's reference and the reader's")
        #expect(region.statistics.notifyFree == 0)
        toucher.join()
        let right = sawRight.load(ordering: .relaxed)
        #expect(right)
        let after = region.state(ofPage: target)
        #expect(after.kind == .resident && after.isDirty && !after.hasSlot)
        #expect(region.slots.useCount(slot) == 0)
        #expect(tier.cache.location(of: slot) == .empty, "freed once installed")
        #expect(region.statistics.notifyFree == 1)
        if case .ioThreads = reads {
            #expect(region.statistics.fileReads == 1)
            #expect(region.statistics.fileReadWaits == 1, "the read outlasted the charge")
        }
        region.checkInvariants()
        tier.cache.checkInvariants()
    }

    /// Four threads touch the same page while its (slow) read is in flight: one read, one
    /// install, all four see the data; with a handler thread, the later faults are neither
    /// served again nor woken early.
    @Test(arguments: readModes, FaultMode.allCases)
    func threadsTouchingAPageWhoseReadIsInFlightAllSeeItAfterOneRead(reads: FileReads, mode: FaultMode) throws {
        guard userfaultfdAvailable() else { return }
        let pages = 96
        let tier = try makeTier(pages: pages, limit: 16, reads: reads, mode: mode)
        defer { tier.close() }
        for p in 0..<pages { fill(tier.region, page: p) }
        let (target, slot) = try #require(pageInFile(tier, pages: pages))
        tier.region.resetStatistics()
        tier.file.inject(.delay(microseconds: 100_000), on: .read, when: .block(try #require(tier.cache.fileBlock(of: slot))), times: 1)
        let region = tier.region
        let right = Atomic<Int>(0)
        onThreads(4) { [self] _ in
            if matches(region, page: target) { right.add(1, ordering: .relaxed) }
        }
        #expect(right.load(ordering: .relaxed) == 4)
        let s = region.statistics
        #expect(s.swapIns == 1)
        #expect(s.fileReads + s.inlineFileReads == 1)
        #expect(tier.file.calls(.read) >= 1)
        #expect(tier.cache.frontswapStatistics.fileLoads == 1)
        #expect(s.notifyFree == 1)
        #expect(tier.cache.location(of: slot) == .empty)
        region.checkInvariants()
        tier.cache.checkInvariants()
    }

    /// Four threads, each on its own pages, touch and rewrite them at random over a file tier;
    /// every value read is the last one written.
    @Test(arguments: [FileReads.inline, .ioThreads(2)], FaultMode.allCases)
    func concurrentTouchesOverTheFileTierNeverSeeAStalePage(reads: FileReads, mode: FaultMode) throws {
        guard userfaultfdAvailable() else { return }
        let pages = 512
        let tier = try makeTier(pages: pages, limit: 64, reads: reads, mode: mode)
        defer { tier.close() }
        let region = tier.region
        for p in 0..<pages { fill(region, page: p) }
        let wrong = Atomic<Int>(0)
        onThreads(4) { [self] t in
            var random = XorShift64(seed: 0x9E37_79B9_7F4A_7C15 &+ UInt64(t))
            var versions = [UInt32](repeating: 1, count: pages / 4)
            for _ in 0..<3000 {
                let k = Int(random.next() % UInt64(pages / 4))
                let p = k * 4 + t
                if !matches(region, page: p, version: versions[k]) { wrong.add(1, ordering: .relaxed) }
                if random.next() % 4 == 0 {
                    versions[k] += 1
                    fill(region, page: p, version: versions[k])
                }
            }
        }
        #expect(wrong.load(ordering: .relaxed) == 0)
        let s = region.statistics
        #expect(s.failedFaults == 0 && s.failedReads == 0)
        #expect(tier.cache.frontswapStatistics.fileLoads > 1000)
        if case .ioThreads = reads { #expect(s.fileReads > 1000) }
        #expect(s.residentMaxPages <= 64)
        region.checkInvariants()
        tier.cache.checkInvariants()
    }

    @Test func fileReadSettingsOutOfRangeAreRefusedWithWhatToChange() throws {
        guard userfaultfdAvailable() else { return }
        let backend = MemoryBackend(slotCount: 64)
        for bad in [FileReads.ioThreads(0), .ioThreads(17)] {
            var configuration = SwapRegionConfiguration(size: 64 * page, residentLimit: 16 * page)
            configuration.fileReads = bad
            #expect(throws: SwapError.invalidConfiguration("\(bad == .ioThreads(0) ? 0 : 17) file read threads: give 1...16 (or read inline)")) {
                _ = try SwapRegion(configuration, backend: backend)
            }
        }
        var configuration = SwapRegionConfiguration(size: 64 * page, residentLimit: 16 * page)
        configuration.readRetries = -1
        #expect(throws: SwapError.invalidConfiguration("-1 read retries: give 0...100")) {
            _ = try SwapRegion(configuration, backend: backend)
        }
    }

    @Test func fileReadsParseTheirOwnDescription() {
        for reads in [FileReads.inline, .ioThreads(1), .ioThreads(4)] {
            #expect(FileReads(reads.description) == reads)
        }
        #expect(FileReads("io-threads") == .ioThreads(1))
        #expect(FileReads("threads:2") == nil)
        #expect(FileReads("io-threads:x") == nil)
    }
}
