import PageStore
import Synchronization
import SystemSupport
import Testing
import Workloads
import ZRAM
import ZSwap
@testable import Swap

/// What the reclaimer does when the backend refuses pages: the fault is served anyway, the page
/// stays resident beyond the limit (counted and reported), nothing is lost, and the region comes
/// back under its limit once the backend takes pages again.
@Suite(.serialized) struct ReclaimerTests {
    /// A backend that runs out of room a different way.
    enum FullBackend: String, CaseIterable, CustomTestStringConvertible {
        /// Every swap slot in use.
        case slots
        /// A ZramDevice whose pool reached its mem_limit, with no second tier.
        case zramPool
        /// A FrontswapCache whose pool is full and whose file fails writes with ENOSPC.
        case fileOutOfSpace
        /// A ZramDevice at its mem_limit whose writeback to its file has spent its budget.
        case writebackBudgetSpent

        var testDescription: String { rawValue }
    }

    /// A backend of `kind` for a region of `pages` pages, and what must be closed afterwards.
    func makeBackend(_ kind: FullBackend, pages: Int) throws -> (any SwapBackend, BackingFile?) {
        switch kind {
        case .slots:
            return (MemoryBackend(slotCount: pages / 4), nil)
        case .zramPool:
            return (try ZramDevice(ZramConfiguration(disksize: pages * page, memLimit: 16 * page)), nil)
        case .fileOutOfSpace:
            let backing = try BackingFile.temporary(blockCount: pages)
            let file = FaultInjectingBackingFile(wrapping: backing)
            file.inject(.error(errno: ENOSPC), on: .write)
            do {
                return (try FrontswapCache(FrontswapConfiguration(slotCount: pages, poolLimit: .bytes(8 * page)), file: file), backing)
            } catch {
                backing.close()
                throw error
            }
        case .writebackBudgetSpent:
            let backing = try BackingFile.temporary(blockCount: pages)
            var configuration = ZramConfiguration(disksize: pages * page, memLimit: 16 * page)
            configuration.backingDevice = ZramBackingDevice(file: backing, blockCount: pages)
            configuration.automaticWriteback = ZramAutomaticWriteback(highWatermark: 12 * page, lowWatermark: 10 * page)
            do {
                let zram = try ZramDevice(configuration)
                zram.writebackLimitEnabled = true
                zram.writebackLimit = 8
                return (zram, backing)
            } catch {
                backing.close()
                throw error
            }
        }
    }

    @Test(arguments: FullBackend.allCases, SwapRegionConfiguration.EvictionMethod.allCases)
    func aFullBackendKeepsPagesResidentBeyondTheLimitAndLosesNothing(backend kind: FullBackend, eviction: SwapRegionConfiguration.EvictionMethod) throws {
        guard userfaultfdAvailable() else { return }
        let pages = 256, limit = 32
        let (backend, backing) = try makeBackend(kind, pages: pages)
        defer { backing?.close() }
        var configuration = SwapRegionConfiguration(size: pages * page, residentLimit: limit * page)
        configuration.evictionMethod = eviction
        let region = try SwapRegion(configuration, backend: backend)
        defer { region.close() }
        // Each page made resident (as a touch would, but reporting instead of raising SIGBUS),
        // then written.
        for p in 0..<pages {
            try region.prefault(p * page..<(p + 1) * page)
            VersionedPage.fill(region.baseAddress, page: p, version: 1, pageSize: page)
        }
        var bad = 0
        for p in 0..<pages where !VersionedPage.verify(region.baseAddress, page: p, version: 1, pageSize: page) { bad += 1 }
        #expect(bad == 0)
        let s = region.statistics
        #expect(s.failedFaults == 0, "no fault that could be served failed")
        #expect(s.failedEvictions > 0, "the backend refused pages")
        #expect(s.limitOverruns > 0)
        #expect(s.overLimitPages > 0 && s.overLimitPages == s.residentPages + s.stagedPages - limit)
        #expect(s.residentMaxPages > limit)
        #expect(s.swappedPages + s.residentPages == pages)
        region.checkInvariants()
    }

    /// In the background too: its thread, woken by every charge at the limit, asks no more
    /// than the charges would (it compressed a page per wake-up to be refused before).
    @Test(arguments: SwapRegionConfiguration.ReclaimMode.allCases)
    func aRefusingBackendIsAskedAgainOnlyAfterASlotIsFreedOrNowAndThen(reclaim: SwapRegionConfiguration.ReclaimMode) throws {
        guard userfaultfdAvailable() else { return }
        let pages = 512, limit = 32
        let backend = MemoryBackend(slotCount: pages)
        var configuration = SwapRegionConfiguration(size: pages * page, residentLimit: limit * page)
        configuration.reclaimMode = reclaim
        let region = try SwapRegion(configuration, backend: backend)
        defer { region.close() }
        backend.refusingWrites.store(true, ordering: .relaxed)
        for p in 0..<pages { region.baseAddress.storeBytes(of: UInt64(p), toByteOffset: p * page, as: UInt64.self) }
        let s = region.statistics
        #expect(s.limitOverruns >= pages - limit)
        // One refused write, then one per refusedRetryInterval charges (not one per fault).
        let refused = backend.refusedWrites.load(ordering: .relaxed)
        #expect(refused >= 1 && refused <= 2 + pages / SwapTuning.refusedRetryInterval)
        region.checkInvariants()
    }

    @Test func onceTheBackendTakesPagesAgainTheRegionComesBackUnderItsLimit() throws {
        guard userfaultfdAvailable() else { return }
        let pages = 1024, limit = 32, refused = 256
        let backend = MemoryBackend(slotCount: pages)
        let region = try SwapRegion(SwapRegionConfiguration(size: pages * page, residentLimit: limit * page), backend: backend)
        defer { region.close() }
        backend.refusingWrites.store(true, ordering: .relaxed)
        for p in 0..<refused { VersionedPage.fill(region.baseAddress, page: p, version: 1, pageSize: page) }
        let over = region.statistics.overLimitPages
        #expect(over == refused - limit)
        // Room again: the next faults (first touches of the other pages) evict their share
        // beyond their own page until the region is back under its limit: within the retry
        // interval, plus one fault per page over, plus the staging batches' lag.
        backend.refusingWrites.store(false, ordering: .relaxed)
        for p in refused..<pages { VersionedPage.fill(region.baseAddress, page: p, version: 1, pageSize: page) }
        let s = region.statistics
        #expect(s.overLimitPages == 0)
        #expect(region.chargedPages <= limit)
        var bad = 0
        for p in 0..<pages where !VersionedPage.verify(region.baseAddress, page: p, version: 1, pageSize: page) { bad += 1 }
        #expect(bad == 0)
        #expect(region.chargedPages <= limit)
        region.checkInvariants()
    }

    // MARK: Batched eviction

    /// A batch write-protects the span between its first and last dirty victim with one ioctl,
    /// so resident pages between them that are not victims are protected too: a write to one
    /// takes one fault that lifts the protection, and lands. The victims leave, the others stay.
    @Test(arguments: SwapRegionConfiguration.FaultMode.allCases)
    func aWriteToAPageBetweenABatchsVictimsLiftsTheSpanProtectionAndLands(mode: SwapRegionConfiguration.FaultMode) throws {
        guard userfaultfdAvailable() else { return }
        let pages = 64
        var configuration = SwapRegionConfiguration(size: pages * page, residentLimit: 32 * page)
        configuration.evictionMethod = .writeProtect
        configuration.faultMode = mode
        let region = try SwapRegion(configuration, backend: MemoryBackend(slotCount: pages))
        defer { region.close() }
        for p in 0..<8 { VersionedPage.fill(region.baseAddress, page: p, version: 1, pageSize: page) }
        let table = region.context.table
        var batch = EvictionBatch()
        for victim in [2, 5] {
            let locked = try #require(table.tryLock(victim, if: { $0.kind == .resident }))
            batch.append(page: victim, state: locked)
        }
        #expect(region.reclaimer.evict(&batch) == .evicted)
        #expect(batch.isEmpty)
        #expect(table.load(2).kind == .swapped && table.load(5).kind == .swapped)
        #expect(table.load(3).kind == .resident && table.load(4).kind == .resident)
        #expect(region.statistics.swapOuts == 2)
        // Pages 3 and 4 sat in the protected span: the first write to each faults once.
        VersionedPage.fill(region.baseAddress, page: 3, version: 2, pageSize: page)
        VersionedPage.fill(region.baseAddress, page: 4, version: 2, pageSize: page)
        VersionedPage.fill(region.baseAddress, page: 4, version: 3, pageSize: page)
        let s = region.statistics
        #expect(s.spanProtectFaults == 2)
        #expect(s.failedFaults == 0)
        #expect(VersionedPage.verify(region.baseAddress, page: 3, version: 2, pageSize: page))
        #expect(VersionedPage.verify(region.baseAddress, page: 4, version: 3, pageSize: page))
        for p in [0, 1, 2, 5, 6, 7] {
            #expect(VersionedPage.verify(region.baseAddress, page: p, version: 1, pageSize: page), "page \(p)")
        }
        #expect(region.statistics.swapIns == 2)
        region.checkInvariants()
    }

    /// The hand fills a batch from consecutive windows: a region over its limit evicts many
    /// pages per reclaim, and every page keeps its contents.
    @Test func reclaimTakesABatchOfVictimsAtOnce() throws {
        guard userfaultfdAvailable() else { return }
        let pages = 256, limit = 64
        var configuration = SwapRegionConfiguration(size: pages * page, residentLimit: limit * page)
        configuration.evictionMethod = .writeProtect
        configuration.victimSelection = .fifo
        configuration.reclaimMode = .inFault  // the reclaims this test counts are its own
        let region = try SwapRegion(configuration, backend: MemoryBackend(slotCount: pages))
        defer { region.close() }
        for p in 0..<limit { VersionedPage.fill(region.baseAddress, page: p, version: 1, pageSize: page) }
        #expect(region.statistics.swapOuts == 0)
        #expect(region.reclaimer.reclaim() == .evicted)
        #expect(region.statistics.swapOuts == EvictionBatch.capacity)
        #expect(region.chargedPages == limit - EvictionBatch.capacity)
        var bad = 0
        for p in 0..<limit where !VersionedPage.verify(region.baseAddress, page: p, version: 1, pageSize: page) { bad += 1 }
        #expect(bad == 0)
        region.checkInvariants()
    }

    /// A region of `pages` pages, all of them allowed resident, evicting by write protection
    /// in the fault path (the reclaims these tests count are their own).
    func fullRegion(pages: Int, selection: SwapRegionConfiguration.VictimSelection = .clock) throws -> SwapRegion {
        var configuration = SwapRegionConfiguration(size: pages * page, residentLimit: pages * page)
        configuration.evictionMethod = .writeProtect
        configuration.victimSelection = selection
        configuration.reclaimMode = .inFault
        return try SwapRegion(configuration, backend: MemoryBackend(slotCount: pages))
    }

    /// Spends the CLOCK credit of each of `pages` (resident, unlocked): the hand takes them first.
    func spendCredit(_ region: SwapRegion, pages: some Sequence<Int>) {
        let table = region.context.table
        for p in pages {
            let before = table.load(p)
            var spent = before
            spent.credit = 0
            #expect(table.compareExchange(p, expected: before, desired: spent))
        }
    }

    /// In a region smaller than a claim the hand's next claim starts below the batch: a page it
    /// passed over (spending its CLOCK credit) lies below the batch's pages, so the batch is
    /// evicted first and the pages of a batch always ascend (its write-protected span covers
    /// every victim); the pages the second claim examined are evicted after it, none skipped.
    @Test func whenTheHandComesBackBelowTheBatchTheBatchIsEvictedFirst() throws {
        guard userfaultfdAvailable() else { return }
        let region = try fullRegion(pages: 32)
        defer { region.close() }
        for p in 0..<10 { VersionedPage.fill(region.baseAddress, page: p, version: 1, pageSize: page) }
        // Every page earned a credit by faulting in; those of pages 0 and 7 are spent.
        let table = region.context.table
        #expect(table.load(0).credit > 0 && table.load(7).credit > 0)
        spendCredit(region, pages: [0, 7])
        // First claim (pages 0...31): pages 0 and 7 are taken, the others spend their credit.
        // Second claim (30 pages, from page 0 again): it lies below page 7, so the batch [0, 7]
        // goes first (eviction stamps 0 and 1); then pages 1...6, 8 and 9, credit spent, go
        // (stamps 2...9).
        #expect(region.reclaimer.reclaimBatch() == .evicted)
        #expect(region.statistics.swapOuts == 10)
        #expect(table.load(0).stamp == 0 && table.load(7).stamp == 1)
        for p in [1, 2, 3, 4, 5, 6, 8, 9] {
            #expect(table.load(p).kind == .swapped)
            #expect(table.load(p).stamp >= 2)
        }
        var bad = 0
        for p in 0..<10 where !VersionedPage.verify(region.baseAddress, page: p, version: 1, pageSize: page) { bad += 1 }
        #expect(bad == 0)
        region.checkInvariants()
    }

    /// The hand examines every page it passes: a batch that fills takes the pages up to its
    /// last victim and the next batch starts right after it. (Claims wider than the batch's
    /// room once left their last pages unexamined for a whole lap: 182,112 swap-ins on Zipf
    /// 0.99 against 178,172 without.)
    @Test func consecutiveBatchesSkipNoPage() throws {
        guard userfaultfdAvailable() else { return }
        let pages = 128, victims = SwapTuning.inFaultEvictionBatch
        let region = try fullRegion(pages: pages)
        defer { region.close() }
        for p in 0..<pages { VersionedPage.fill(region.baseAddress, page: p, version: 1, pageSize: page) }
        // Every page's credit spent: each page the hand examines is a victim.
        let table = region.context.table
        spendCredit(region, pages: 0..<pages)
        #expect(region.reclaimer.reclaimBatch(victims: victims) == .evicted)
        #expect(region.reclaimer.reclaimBatch(victims: victims) == .evicted)
        let swapped = (0..<pages).filter { table.load($0).kind == .swapped }
        #expect(swapped == Array(0..<(2 * victims)))
        var bad = 0
        for p in 0..<pages where !VersionedPage.verify(region.baseAddress, page: p, version: 1, pageSize: page) { bad += 1 }
        #expect(bad == 0)
        region.checkInvariants()
    }

    /// In a region smaller than a batch the hand's claims wrap round the table: each claim
    /// covers every page at most once, and repeated batches keep evicting (a claim of a whole
    /// batch once ran past the table's end after a wrap).
    @Test func claimsInARegionSmallerThanABatchStayInTheTable() throws {
        guard userfaultfdAvailable() else { return }
        let pages = 20
        // FIFO: every resident page is a victim, credits play no part.
        let region = try fullRegion(pages: pages, selection: .fifo)
        defer { region.close() }
        for round in 1...4 {
            // Every page back (and written), then a batch from wherever the hand stopped.
            for p in 0..<pages { VersionedPage.fill(region.baseAddress, page: p, version: UInt32(round), pageSize: page) }
            let before = region.statistics.swapOuts
            #expect(region.reclaimer.reclaimBatch() == .evicted)
            #expect(region.statistics.swapOuts > before)
            var bad = 0
            for p in 0..<pages where !VersionedPage.verify(region.baseAddress, page: p, version: UInt32(round), pageSize: page) { bad += 1 }
            #expect(bad == 0)
            region.checkInvariants()
        }
    }

    /// A swap-in earns CLOCK credit by its refault distance, as the kernel's workingset decides
    /// between its active and inactive lists: a page evicted within the last resident set's
    /// worth of evictions comes back with ``SwapTuning/refaultCredit``, one evicted longer ago
    /// with ``SwapTuning/distantRefaultCredit`` (none: the hand takes it on its next pass).
    @Test func aSwapInEarnsCreditOnlyForAShortRefaultDistance() throws {
        guard userfaultfdAvailable() else { return }
        let limit = 64, pages = 4 * limit
        var configuration = SwapRegionConfiguration(size: pages * page, residentLimit: limit * page)
        configuration.victimSelection = .clock
        let region = try SwapRegion(configuration, backend: MemoryBackend(slotCount: pages))
        defer { region.close() }
        for p in 0..<pages { VersionedPage.fill(region.baseAddress, page: p, version: 1, pageSize: page) }
        let table = region.context.table
        let swapped = (0..<pages).filter { table.load($0).kind == .swapped }
        let byStamp = swapped.sorted { table.load($0).stamp < table.load($1).stamp }
        let (oldest, newest) = (byStamp.first!, byStamp.last!)
        let evictions = region.reclaimer.evictions.load(ordering: .relaxed)
        #expect(evictions - table.load(oldest).stamp > UInt64(limit), "the oldest was evicted more than a resident set ago")
        // Evicted just now: it would have stayed with a little more room.
        #expect(VersionedPage.verify(region.baseAddress, page: newest, version: 1, pageSize: page))
        #expect(table.load(newest).kind == .resident)
        #expect(table.load(newest).credit == min(SwapTuning.refaultCredit, PageState.maximumCredit))
        // Evicted three resident sets ago: no sign that it is hot.
        #expect(VersionedPage.verify(region.baseAddress, page: oldest, version: 1, pageSize: page))
        #expect(table.load(oldest).kind == .resident)
        #expect(table.load(oldest).credit == SwapTuning.distantRefaultCredit)
        #expect(SwapTuning.distantRefaultCredit < SwapTuning.refaultCredit)
        region.checkInvariants()
    }

    /// userfaultfd has no accessed bit, so a page read back on probation is mapped
    /// write-protected (dirty, its copy freed): its first write is seen, and raises its credit
    /// to ``SwapTuning/writeCredit``. A page read back with that credit already, a page swapped
    /// in by a write, and every page under FIFO selection are mapped writable.
    @Test(arguments: [SwapRegionConfiguration.VictimSelection.clock, .fifo])
    func aPageReadBackOnProbationIsWatchedUntilItsFirstWrite(selection: SwapRegionConfiguration.VictimSelection) throws {
        guard userfaultfdAvailable() else { return }
        let limit = 64, pages = 4 * limit
        var configuration = SwapRegionConfiguration(size: pages * page, residentLimit: limit * page)
        configuration.victimSelection = selection
        configuration.reclaimMode = .inFault  // the faults this test counts are its own
        let backend = MemoryBackend(slotCount: pages)
        let region = try SwapRegion(configuration, backend: backend)
        defer { region.close() }
        for p in 0..<pages { VersionedPage.fill(region.baseAddress, page: p, version: 1, pageSize: page) }
        let table = region.context.table
        let byStamp = (0..<pages).filter { table.load($0).kind == .swapped }.sorted { table.load($0).stamp < table.load($1).stamp }
        let (oldest, secondOldest, newest) = (byStamp[0], byStamp[1], byStamp.last!)
        let watched = selection == .clock
        // Read back after a long refault distance: on probation, watched.
        #expect(VersionedPage.verify(region.baseAddress, page: oldest, version: 1, pageSize: page))
        var state = table.load(oldest)
        #expect(state.kind == .resident && state.isDirty && !state.hasSlot && state.isWriteProtected == watched)
        #expect(state.credit == SwapTuning.distantRefaultCredit)
        let faults = region.statistics.writeProtectFaults
        VersionedPage.fill(region.baseAddress, page: oldest, version: 2, pageSize: page)
        #expect(region.statistics.writeProtectFaults == faults + (watched ? 1 : 0))
        state = table.load(oldest)
        #expect(!state.isWriteProtected && state.isDirty)
        #expect(state.credit == (watched ? SwapTuning.writeCredit : SwapTuning.distantRefaultCredit))
        #expect(VersionedPage.verify(region.baseAddress, page: oldest, version: 2, pageSize: page))
        // Read back soon after its eviction: its credit is already as high, not watched.
        #expect(VersionedPage.verify(region.baseAddress, page: newest, version: 1, pageSize: page))
        #expect(!table.load(newest).isWriteProtected)
        #expect(SwapTuning.refaultCredit >= SwapTuning.writeCredit)
        // Swapped in by a write: dirty at once, never watched.
        VersionedPage.fill(region.baseAddress, page: secondOldest, version: 3, pageSize: page)
        #expect(!table.load(secondOldest).isWriteProtected)
        #expect(region.statistics.writeProtectFaults == faults + (watched ? 1 : 0))
        // A watched page evicted before any write keeps its data.
        let reader = byStamp[2]
        #expect(VersionedPage.verify(region.baseAddress, page: reader, version: 1, pageSize: page))
        #expect(table.load(reader).isWriteProtected == watched)
        #expect(region.evict(page: reader))
        #expect(VersionedPage.verify(region.baseAddress, page: reader, version: 1, pageSize: page))
        #expect(backend.doubleFrees.load(ordering: .relaxed) == 0)
        region.checkInvariants()
    }

    /// A write to a page that a batched eviction write-protected only because it lay in the
    /// batch's span is a reference too: the fault that lifts the protection raises the page's
    /// credit to ``SwapTuning/writeCredit``.
    @Test func aWriteInAnEvictionsSpanEarnsCredit() throws {
        guard userfaultfdAvailable() else { return }
        let region = try fullRegion(pages: 32)
        defer { region.close() }
        for p in 0..<3 { VersionedPage.fill(region.baseAddress, page: p, version: 1, pageSize: page) }
        // Pages 0 and 2 are victims (credit spent); page 1, between them, keeps one credit.
        let table = region.context.table
        spendCredit(region, pages: [0, 2])
        #expect(region.reclaimer.reclaimBatch(victims: 2) == .evicted)
        #expect(table.load(0).kind == .swapped && table.load(2).kind == .swapped)
        #expect(table.load(1).kind == .resident && table.load(1).credit == 0, "the hand spent its credit")
        let spanFaults = region.statistics.spanProtectFaults
        VersionedPage.fill(region.baseAddress, page: 1, version: 2, pageSize: page)
        #expect(region.statistics.spanProtectFaults == spanFaults + 1)
        #expect(table.load(1).credit == SwapTuning.writeCredit)
        #expect(VersionedPage.verify(region.baseAddress, page: 1, version: 2, pageSize: page))
        region.checkInvariants()
    }

    /// A fault that finds the region full evicts one small batch (its thread compresses every
    /// victim): at most ``SwapTuning/inFaultEvictionBatch`` pages, where a background reclaimer
    /// takes full batches; the next faults charge the room it made.
    @Test func aFaultEvictsASmallBatchNotAFullOne() throws {
        guard userfaultfdAvailable() else { return }
        let limit = 64
        var configuration = SwapRegionConfiguration(size: 4 * limit * page, residentLimit: limit * page)
        configuration.evictionMethod = .writeProtect
        configuration.victimSelection = .fifo
        configuration.reclaimMode = .inFault  // the reclaims this test counts are its own
        let region = try SwapRegion(configuration, backend: MemoryBackend(slotCount: 4 * limit))
        defer { region.close() }
        for p in 0..<limit { VersionedPage.fill(region.baseAddress, page: p, version: 1, pageSize: page) }
        #expect(region.statistics.swapOuts == 0, "the region is exactly full")
        VersionedPage.fill(region.baseAddress, page: limit, version: 1, pageSize: page)
        let first = region.statistics.swapOuts
        #expect(first >= 1 && first <= SwapTuning.inFaultEvictionBatch, "one fault evicted \(first) pages")
        // The room it made serves the next faults without another eviction.
        for p in (limit + 1)..<(limit + first) { VersionedPage.fill(region.baseAddress, page: p, version: 1, pageSize: page) }
        #expect(region.statistics.swapOuts == first)
        var bad = 0
        for p in 0..<(limit + first) where !VersionedPage.verify(region.baseAddress, page: p, version: 1, pageSize: page) { bad += 1 }
        #expect(bad == 0)
        region.checkInvariants()
    }
}
