import PageCodecs
import PageStore
import TestSupport
import Testing

@testable import ZRAM

@Suite struct ZramDeviceRecompressionTests {
    @Test func idleSlotsMoveToTheSecondaryCodecOnlyWhenTheyLandInASmallerClass() throws {
        // The primary adds 600 bytes to every object, the secondary nothing.
        let device = try makePrefixDevice(slots: 8, padding: 600, secondaryPadding: 0)
        let page = PageBuffer(), back = PageBuffer()
        for slot in 0..<4 {
            page.fillPrefix(500 + slot * 100, seed: UInt64(slot))
            try device.writePage(page.raw, at: slot)
        }
        #expect(try device.objectSize(0) == 1102)
        let before = device.mmStat.comprDataSize
        device.markIdle()
        try device.readPage(at: 3, into: back.bytes)  // slot 3 is no longer idle
        let improved = try device.recompress(type: .idle)
        #expect(improved == 3)
        #expect(try device.objectSize(0) == 502)
        #expect(try device.slotFlags(0).priority == 1)
        #expect(try device.slotFlags(3).priority == 0)
        #expect(device.mmStat.comprDataSize == before - 3 * 600)
        for slot in 0..<4 {
            page.fillPrefix(500 + slot * 100, seed: UInt64(slot))
            try device.readPage(at: slot, into: back.bytes)
            #expect(back.equals(page), "slot \(slot) reads back through the codec its priority names")
        }
        // Already recompressed slots are skipped.
        device.markIdle()
        #expect(try device.recompress(type: .idle) == 1)
        device.checkInvariants()
    }

    @Test func hugeSlotsThatNoCodecShrinksBecomeIncompressible() throws {
        let device = try makePrefixDevice(slots: 4, padding: 1000, secondaryPadding: 0)
        let page = PageBuffer(), back = PageBuffer()
        page.fillPrefix(3000, seed: 1)  // primary: 4002 bytes -> huge; secondary: 3002
        try device.writePage(page.raw, at: 0)
        page.fillPrefix(4000, seed: 2)  // huge for both
        try device.writePage(page.raw, at: 1)
        #expect(device.mmStat.hugePages == 2)
        #expect(try device.recompress(type: .huge) == 1)
        #expect(try device.slotFlags(0) == .priorityBit1)
        #expect(try device.slotFlags(1) == [.huge, .incompressible])
        #expect(device.mmStat.hugePages == 1)
        #expect(device.mmStat.hugePagesSince == 2)
        page.fillPrefix(3000, seed: 1)
        try device.readPage(at: 0, into: back.bytes)
        #expect(back.equals(page))
        // huge_idle needs both flags; the incompressible slot is skipped from now on.
        device.markIdle()
        #expect(try device.recompress(type: .hugeIdle) == 0)
        device.checkInvariants()
    }

    @Test func thresholdAndMaxPagesLimitTheWork() throws {
        let device = try makePrefixDevice(slots: 8, padding: 600, secondaryPadding: 0)
        let page = PageBuffer()
        for slot in 0..<6 {
            page.fillPrefix(slot < 3 ? 100 : 2000, seed: UInt64(slot))
            try device.writePage(page.raw, at: slot)
        }
        device.markIdle()
        // Only objects of at least 2500 bytes, and only results below it.
        #expect(try device.recompress(type: .idle, threshold: 2500) == 3)
        #expect(try device.objectSize(0) == 702)
        #expect(try device.objectSize(3) == 2002)
        #expect(try device.slotFlags(0) == [.idle], "slots not tried keep their mark")
        #expect(try device.slotFlags(3) == [.priorityBit1], "a tried slot loses its idle mark")
        device.markIdle()
        #expect(try device.recompress(type: .idle, maxPages: 2) == 2)
        device.checkInvariants()
    }

    @Test func recompressionWithoutASecondaryCodecOrWithAHugeThresholdThrows() throws {
        let device = try makePrefixDevice(slots: 2)
        #expect(throws: ZramError.noSecondaryCodec) { try device.recompress(type: .idle) }
        let withSecondary = try makePrefixDevice(slots: 2, secondaryPadding: 0)
        #expect(throws: ZramError.self) { try withSecondary.recompress(type: .idle, threshold: 3632) }
    }

    @Test func zstdAsSecondaryShrinksIdleLZ4Pages() throws {
        var configuration = ZramConfiguration(disksize: 64 * 4096)
        configuration.secondaryCodec = PageCodecFactory(.zstd(level: 3))
        let made = Result { () throws(ZramError) -> ZramDevice in try ZramDevice(configuration) }
        guard case .success(let device) = made else {
            if case .failure(let error) = made { CIGate.unavailable("zstd (\(error))") }
            return
        }
        let page = PageBuffer(), back = PageBuffer()
        for slot in 0..<64 {
            page.fillText(seed: UInt64(slot))
            try device.writePage(page.raw, at: slot)
        }
        let before = device.mmStat.comprDataSize
        device.markIdle()
        let improved = try device.recompress(type: .idle)
        #expect(improved > 0)
        #expect(device.mmStat.comprDataSize < before)
        for slot in 0..<64 {
            page.fillText(seed: UInt64(slot))
            try device.readPage(at: slot, into: back.bytes)
            #expect(back.equals(page), "slot \(slot)")
        }
        device.checkInvariants()
    }
}
