import PageStore
import Synchronization
import Testing
import ZRAM
@testable import Swap

/// A region over the real in-process zram device: data survives, and the device's own
/// counters agree with the swap layer's.
@Suite(.serialized) struct SwapRegionZramTests {
    /// Text-like, compressible pages: a page number woven into repeated words.
    func fill(_ base: UnsafeMutableRawPointer, page p: Int, round: Int) {
        let words = (base + p * page).assumingMemoryBound(to: UInt64.self)
        for i in 0..<512 { words[i] = UInt64(p &* 31 &+ round) &+ UInt64(i % 16) }
    }

    func matches(_ base: UnsafeMutableRawPointer, page p: Int, round: Int) -> Bool {
        let words = (base + p * page).assumingMemoryBound(to: UInt64.self)
        for i in 0..<512 where words[i] != UInt64(p &* 31 &+ round) &+ UInt64(i % 16) { return false }
        return true
    }

    @Test(arguments: SlotPolicy.allCases)
    func pagesRoundTripThroughZramAndTheCountersAgree(policy: SlotPolicy) throws {
        guard userfaultfdAvailable() else { return }
        let pages = 4096
        let zram = try ZramDevice(ZramConfiguration(disksize: 4 * pages * page))
        let region = try SwapRegion(SwapRegionConfiguration(size: pages * page, residentLimit: 1024 * page, policy: policy), backend: zram)
        defer { region.close() }
        for p in 0..<pages { fill(region.baseAddress, page: p, round: 0) }
        var bad = 0
        for p in 0..<pages where !matches(region.baseAddress, page: p, round: 0) { bad += 1 }
        for p in stride(from: 0, to: pages, by: 3) { fill(region.baseAddress, page: p, round: 1) }
        for p in 0..<pages where !matches(region.baseAddress, page: p, round: p % 3 == 0 ? 1 : 0) { bad += 1 }
        #expect(bad == 0)
        region.quiesce()  // a background reclaimer's last evictions land before the counts
        let s = region.statistics
        #expect(s.swapIns > 2 * (pages - 1024) - 100)
        #expect(zram.ioStat.notifyFree == s.notifyFree)
        // zram stores exactly the slots the swap layer holds.
        #expect(zram.mmStat.origDataSize == s.slotsInUse * page)
        #expect(zram.mmStat.comprDataSize < zram.mmStat.origDataSize / 4, "the pages are compressible")
        #expect(s.residentMaxPages <= 1024)
        region.checkInvariants()
    }
}
