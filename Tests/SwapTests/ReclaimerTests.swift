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

    @Test(arguments: FullBackend.allCases)
    func aFullBackendKeepsPagesResidentBeyondTheLimitAndLosesNothing(backend kind: FullBackend) throws {
        guard userfaultfdAvailable() else { return }
        let pages = 256, limit = 32
        let (backend, backing) = try makeBackend(kind, pages: pages)
        defer { backing?.close() }
        let region = try SwapRegion(SwapRegionConfiguration(size: pages * page, residentLimit: limit * page), backend: backend)
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

    @Test func aRefusingBackendIsAskedAgainOnlyAfterASlotIsFreedOrNowAndThen() throws {
        guard userfaultfdAvailable() else { return }
        let pages = 512, limit = 32
        let backend = MemoryBackend(slotCount: pages)
        let region = try SwapRegion(SwapRegionConfiguration(size: pages * page, residentLimit: limit * page), backend: backend)
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
}
