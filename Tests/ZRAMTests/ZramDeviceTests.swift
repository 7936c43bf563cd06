import Foundation
import PageCodecs
import PageStore
import Testing
import ZsPool

@testable import ZRAM

@Suite struct ZramDeviceTests {
    @Test func aCompressedPageReadsBackAndCountsItsObjectSize() throws {
        let device = try makePrefixDevice(slots: 16)
        let page = PageBuffer(), back = PageBuffer()
        page.fillPrefix(1000, seed: 1)
        try device.writePage(page.raw, at: 3)
        try device.readPage(at: 3, into: back.bytes)
        #expect(back.equals(page))
        #expect(try device.objectSize(3) == 1002)
        #expect(try device.slotFlags(3) == [])
        let mm = device.mmStat
        #expect(mm.origDataSize == 4096)
        #expect(mm.comprDataSize == 1002)
        #expect(mm.samePages == 0 && mm.hugePages == 0)
        #expect(mm.memUsedTotal > 0 && mm.memUsedTotal == mm.memUsedMax)
        device.checkInvariants()
    }

    @Test func theZsmallocEquivalentCountsWholeSpansAndFallsToZeroWhenEmpty() throws {
        let device = try makePrefixDevice(slots: 16)
        let page = PageBuffer()
        page.fillPrefix(1000, seed: 1)
        try device.writePage(page.raw, at: 0)
        let ours = device.mmStat.memUsedTotal
        let whole = device.zsmallocEquivalentBytes
        // One object commits one page of its span; zsmalloc would hold the whole span.
        #expect(ours == 4096)
        #expect(whole >= ours && whole % 4096 == 0)
        #expect(whole == device.pool.spanSize(ofClass: device.pool.classes.classIndex(forSize: 1002)))
        device.discard(0)
        #expect(device.zsmallocEquivalentBytes == 0 && device.mmStat.memUsedTotal == 0)
        device.checkInvariants()
    }

    @Test(arguments: [UInt64(0), 0xDEAD_BEEF_0BAD_F00D])
    func aSameFilledPageCostsNoPoolMemory(word: UInt64) throws {
        let device = try makePrefixDevice(slots: 4)
        let page = PageBuffer(), back = PageBuffer()
        page.fillWord(word)
        try device.writePage(page.raw, at: 1)
        #expect(try device.slotFlags(1) == .same)
        #expect(device.mmStat.memUsedTotal == 0)
        #expect(device.mmStat.samePages == 1)
        #expect(device.mmStat.origDataSize == 4096)
        #expect(device.mmStat.comprDataSize == 0)
        back.fillRandom(seed: 9)
        try device.readPage(at: 1, into: back.bytes)
        #expect(back.equals(page))
        device.discard(1)
        #expect(device.mmStat.samePages == 0 && device.mmStat.origDataSize == 0)
        device.checkInvariants()
    }

    @Test func aPageReachingHugeClassSizeIsStoredRaw() throws {
        let device = try makePrefixDevice(slots: 4)
        let page = PageBuffer(), back = PageBuffer()
        page.fillPrefix(device.hugeClassSize - 2, seed: 2)  // compresses to exactly hugeClassSize
        try device.writePage(page.raw, at: 0)
        #expect(try device.slotFlags(0) == .huge)
        #expect(try device.objectSize(0) == 4096)
        page.fillPrefix(device.hugeClassSize - 3, seed: 3)  // one byte less: still compressed
        try device.writePage(page.raw, at: 1)
        #expect(try device.slotFlags(1) == [])
        #expect(try device.objectSize(1) == device.hugeClassSize - 1)
        try device.readPage(at: 0, into: back.bytes)
        page.fillPrefix(device.hugeClassSize - 2, seed: 2)
        #expect(back.equals(page))
        let mm = device.mmStat
        #expect(mm.hugePages == 1 && mm.hugePagesSince == 1)
        #expect(mm.comprDataSize == 4096 + device.hugeClassSize - 1)
        device.discard(0)
        #expect(device.mmStat.hugePages == 0 && device.mmStat.hugePagesSince == 1)
        device.checkInvariants()
    }

    @Test func overwritingASlotReplacesItsContentsAndCounters() throws {
        let device = try makePrefixDevice(slots: 4)
        let page = PageBuffer(), back = PageBuffer()
        page.fillPrefix(500, seed: 1)
        try device.writePage(page.raw, at: 2)
        page.fillWord(0)
        try device.writePage(page.raw, at: 2)
        page.fillPrefix(2000, seed: 5)
        try device.writePage(page.raw, at: 2)
        try device.readPage(at: 2, into: back.bytes)
        #expect(back.equals(page))
        #expect(device.mmStat.origDataSize == 4096)
        #expect(device.mmStat.comprDataSize == 2002)
        #expect(device.mmStat.samePages == 0)
        device.checkInvariants()
    }

    @Test func emptySlotsOutOfRangeSlotsAndWrongSizesThrowAndChangeNothing() throws {
        let device = try makePrefixDevice(slots: 4)
        let page = PageBuffer(), small = PageBuffer(size: 512)
        #expect(throws: PageStoreError.emptySlot(slot: 0)) { try device.readPage(at: 0, into: page.bytes) }
        #expect(throws: PageStoreError.slotOutOfRange(slot: 4, slotCount: 4)) { try device.writePage(page.raw, at: 4) }
        #expect(throws: PageStoreError.slotOutOfRange(slot: -1, slotCount: 4)) { try device.readPage(at: -1, into: page.bytes) }
        #expect(throws: PageStoreError.wrongPageSize(expected: 4096, actual: 512)) { try device.writePage(small.raw, at: 0) }
        device.discard(99)
        device.slotFreeNotify(99)
        #expect(device.mmStat.origDataSize == 0)
        #expect(device.ioStat.notifyFree == 0)
        device.checkInvariants()
    }

    @Test func aWriteOverTheMemoryLimitFailsAndTheOldPageSurvives() throws {
        let device = try makePrefixDevice(slots: 64, memLimit: 3 * 4096)
        let page = PageBuffer(), back = PageBuffer()
        var written = 0
        for slot in 0..<3 {
            page.fillRandom(seed: UInt64(slot))  // huge: one page each
            try device.writePage(page.raw, at: slot)
            written += 1
        }
        page.fillRandom(seed: 100)
        #expect(throws: PageStoreError.memoryLimitExceeded(limit: 3 * 4096, needed: 4 * 4096)) {
            try device.writePage(page.raw, at: 1)
        }
        #expect(device.ioStat.failedWrites == 1)
        back.fillWord(0)
        try device.readPage(at: 1, into: back.bytes)
        page.fillRandom(seed: 1)
        #expect(back.equals(page), "the failed write must leave the slot's old page intact")
        #expect(device.mmStat.memUsedTotal == 3 * 4096)
        // Same-filled pages need no pool memory, so they still fit.
        page.fillWord(7)
        try device.writePage(page.raw, at: 1)
        #expect(device.mmStat.memUsedTotal == 2 * 4096)
        device.checkInvariants()
    }

    @Test func slotFreeNotifyFreesAnUnlockedSlot() throws {
        let device = try makePrefixDevice(slots: 4)
        let page = PageBuffer()
        page.fillPrefix(300, seed: 1)
        try device.writePage(page.raw, at: 0)
        device.slotFreeNotify(0)
        #expect(device.ioStat.notifyFree == 1)
        #expect(device.debugStat.missFree == 0)
        #expect(throws: PageStoreError.emptySlot(slot: 0)) { try device.readPage(at: 0, into: page.bytes) }
        #expect(device.mmStat.memUsedTotal == 0)
        #expect(device.freesOnNotify)
        device.checkInvariants()
    }

    @Test func slotFreeNotifyOnALockedSlotCountsAMissAndKeepsTheCopy() throws {
        let device = try makePrefixDevice(slots: 4)
        let page = PageBuffer(), back = PageBuffer()
        page.fillPrefix(300, seed: 1)
        try device.writePage(page.raw, at: 2)
        device.table.lock(2)  // another operation holds the slot
        device.slotFreeNotify(2)
        device.table.unlock(2)
        #expect(device.ioStat.notifyFree == 1)
        #expect(device.debugStat.missFree == 1)
        #expect(device.debugStat.line == "version: 1\n0        1\n")
        try device.readPage(at: 2, into: back.bytes)
        #expect(back.equals(page))
        #expect(device.statistics.missFree == 1 && device.statistics.notifyFree == 1)
        device.checkInvariants()
    }

    @Test func resetFreesEverySlotAndZeroesTheCounters() throws {
        let device = try makePrefixDevice(slots: 32)
        let page = PageBuffer()
        for slot in 0..<32 {
            if slot % 3 == 0 { page.fillWord(0) } else { page.fillPrefix(100 * slot, seed: UInt64(slot)) }
            try device.writePage(page.raw, at: slot)
        }
        device.slotFreeNotify(5)
        #expect(device.mmStat.memUsedTotal > 0)
        device.reset()
        let zero = ZramMMStat(origDataSize: 0, comprDataSize: 0, memUsedTotal: 0, memLimit: 0, memUsedMax: 0, samePages: 0, pagesCompacted: 0, hugePages: 0, hugePagesSince: 0)
        #expect(device.mmStat == zero)
        #expect(device.ioStat == ZramIOStat(failedReads: 0, failedWrites: 0, notifyFree: 0))
        #expect(throws: PageStoreError.emptySlot(slot: 1)) { try device.readPage(at: 1, into: page.bytes) }
        page.fillPrefix(10, seed: 1)
        try device.writePage(page.raw, at: 1)
        #expect(device.mmStat.origDataSize == 4096)
        device.checkInvariants()
    }

    @Test func memUsedMaxKeepsTheHighWaterMarkUntilReset() throws {
        let device = try makePrefixDevice(slots: 8)
        let page = PageBuffer()
        for slot in 0..<4 {
            page.fillRandom(seed: UInt64(slot))
            try device.writePage(page.raw, at: slot)
        }
        for slot in 0..<4 { device.discard(slot) }
        #expect(device.mmStat.memUsedTotal == 0)
        #expect(device.mmStat.memUsedMax == 4 * 4096)
        device.resetMemUsedMax()
        #expect(device.mmStat.memUsedMax == 0)
    }

    @Test func aCorruptObjectFailsTheReadAndCountsFailedReads() throws {
        let device = try makePrefixDevice(slots: 2)
        let page = PageBuffer()
        page.fillPrefix(100, seed: 1)
        try device.writePage(page.raw, at: 0)
        // Damage the stored length field.
        device.table.lock(0)
        let c = device.pool.classes.classIndex(forSize: device.table.size(0))
        device.pool.address(of: ZsHandle(rawValue: device.table.handle(0)), inClass: c).storeBytes(of: UInt16(4000), as: UInt16.self)
        device.table.unlock(0)
        #expect(throws: PageStoreError.self) { try device.readPage(at: 0, into: page.bytes) }
        #expect(device.ioStat.failedReads == 1)
        #expect(device.ioStat.line == "       1        0 0        0\n")
        device.checkInvariants()
    }

    @Test func statisticsMirrorTheKernelStats() throws {
        let device = try makePrefixDevice(slots: 8)
        let page = PageBuffer()
        page.fillWord(0)
        try device.writePage(page.raw, at: 0)
        page.fillPrefix(700, seed: 1)
        try device.writePage(page.raw, at: 1)
        let s = device.statistics
        #expect(s.storedPages == 2)
        #expect(s.origDataSize == 8192)
        #expect(s.comprDataSize == 702)
        #expect(s.samePages == 1)
        #expect(s.memUsedTotal == device.mmStat.memUsedTotal)
        #expect(device.bdStat.line == "       0        0        0\n")
        #expect(device.slotTableBytes == 8 * 16)
    }

    @Test func aCodecThatCannotBeMadeIsNamedInTheError() {
        let failure = CodecError.libraryUnavailable(library: "libzstd.so.1", reason: "test")
        let configuration = ZramConfiguration(disksize: 4 * 4096, codec: PageCodecFactory(.zstd(level: 3)))
        #expect(throws: ZramError.codecUnavailable(codec: "zstd-3", reason: failure.description)) {
            _ = try ZramDevice(configuration, makeCodec: { () throws(CodecError) -> any PageCodec in throw failure })
        }
        #expect(throws: ZramError.codecUnavailable(codec: "zstd-3", reason: failure.description)) {
            _ = try ZramDevice(
                configuration, makeCodec: { () throws(CodecError) -> any PageCodec in PrefixCodec() },
                makeSecondaryCodec: { () throws(CodecError) -> any PageCodec in throw failure })
        }
    }

    @Test func poolStatisticsCountTheObjectsAndSpansTheSlotsHold() throws {
        let device = try makePrefixDevice(slots: 8)
        let page = PageBuffer()
        for slot in 0..<3 {
            page.fillPrefix(500, seed: UInt64(slot))
            try device.writePage(page.raw, at: slot)
        }
        page.fillWord(7)
        try device.writePage(page.raw, at: 3)
        let pool = device.poolStatistics
        #expect(pool.objects == 3, "same-filled pages have no object")
        #expect(pool.spans == 1)
        #expect(pool.memUsedTotal == device.mmStat.memUsedTotal)
        #expect(pool.zsmallocEquivalentBytes == device.zsmallocEquivalentBytes)
        #expect(pool.metadataBytes == device.poolMetadataBytes)
        device.checkInvariants()
    }

    @Test(arguments: [8192, 65536])
    func largerPagesRoundTripWithTheirOwnHugeThreshold(pageSize: Int) throws {
        let device = try makePrefixDevice(slots: 8, pageSize: pageSize)
        #expect(device.hugeClassSize < pageSize && device.hugeClassSize > pageSize * 3 / 4)
        let page = PageBuffer(size: pageSize), back = PageBuffer(size: pageSize)
        for (slot, prefix) in [100, pageSize / 2, pageSize - 10].enumerated() {
            page.fillPrefix(prefix, seed: UInt64(slot))
            try device.writePage(page.raw, at: slot)
            try device.readPage(at: slot, into: back.bytes)
            #expect(back.equals(page))
        }
        #expect(device.mmStat.hugePages == 1)
        device.checkInvariants()
    }

    @Test func theRealLZ4CodecRoundTripsMixedPages() throws {
        let device = try ZramDevice(ZramConfiguration(disksize: 64 * 4096))
        let page = PageBuffer(), back = PageBuffer()
        for slot in 0..<64 {
            switch slot % 3 {
            case 0: page.fillText(seed: UInt64(slot))
            case 1: page.fillRandom(seed: UInt64(slot))
            default: page.fillWord(UInt64(slot))
            }
            try device.writePage(page.raw, at: slot)
            try device.readPage(at: slot, into: back.bytes)
            #expect(back.equals(page), "slot \(slot)")
        }
        #expect(device.mmStat.samePages == 21)
        #expect(device.mmStat.hugePages == 21)
        device.checkInvariants()
    }
}
