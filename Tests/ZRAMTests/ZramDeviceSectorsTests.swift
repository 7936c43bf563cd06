import Foundation
import PageStore
import Testing

@testable import ZRAM

@Suite struct ZramDeviceSectorsTests {
    @Test func unwrittenSectorsReadAsZeros() throws {
        let device = try makePrefixDevice(slots: 4)
        let buffer = PageBuffer(size: 1024)
        buffer.fillRandom(seed: 1)
        try device.read(into: buffer.bytes, at: 512)
        #expect(buffer.bytes.allSatisfy { $0 == 0 })
    }

    @Test func aPartialPageWriteIsReadModifyWrite() throws {
        let device = try makePrefixDevice(slots: 4)
        let page = PageBuffer(), back = PageBuffer()
        page.fillPrefix(3000, seed: 7)
        try device.writePage(page.raw, at: 1)
        let patch = PageBuffer(size: 1024)
        patch.fillRandom(seed: 9)
        try device.write(patch.raw, at: 4096 + 1536)
        (page.bytes.baseAddress! + 1536).copyMemory(from: patch.bytes.baseAddress!, byteCount: 1024)
        try device.readPage(at: 1, into: back.bytes)
        #expect(back.equals(page), "the sectors around the patch keep their old bytes")
        let sector = PageBuffer(size: 512)
        try device.read(into: sector.bytes, at: 4096 + 2048)
        #expect(memcmp(sector.bytes.baseAddress!, page.bytes.baseAddress! + 2048, 512) == 0)
        device.checkInvariants()
    }

    @Test func aWriteSpanningPagesStoresWholeAndPartialPages() throws {
        let device = try makePrefixDevice(slots: 8)
        let data = PageBuffer(size: 3 * 4096)
        data.fillRandom(seed: 3)
        try device.write(data.raw, at: 2048)  // half of page 0, pages 1 and 2, half of page 3
        let back = PageBuffer(size: 3 * 4096)
        try device.read(into: back.bytes, at: 2048)
        #expect(back.equals(data))
        let head = PageBuffer()
        try device.readPage(at: 0, into: head.bytes)
        #expect(head.bytes[0..<2048].allSatisfy { $0 == 0 })
        #expect(device.mmStat.origDataSize == 4 * 4096)
        device.checkInvariants()
    }

    @Test(arguments: [(offset: 100, length: 512), (offset: 512, length: 100), (offset: -512, length: 512)])
    func unalignedIOIsRejected(offset: Int, length: Int) throws {
        let device = try makePrefixDevice(slots: 2)
        let buffer = PageBuffer(size: max(length, 1))
        let slice = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<length])
        #expect(throws: ZramError.unalignedIO(offset: offset, length: length)) { try device.read(into: slice, at: offset) }
        #expect(throws: ZramError.unalignedIO(offset: offset, length: length)) { try device.write(UnsafeRawBufferPointer(slice), at: offset) }
    }

    @Test func ioPastTheEndIsRejectedAndWritesNothing() throws {
        let device = try makePrefixDevice(slots: 2)
        let buffer = PageBuffer(size: 1024)
        buffer.fillRandom(seed: 1)
        #expect(throws: ZramError.outOfRange(offset: 7680, length: 1024, disksize: 8192)) { try device.write(buffer.raw, at: 7680) }
        #expect(device.mmStat.origDataSize == 0)
    }

    @Test func discardFreesOnlyWholePagesInTheRange() throws {
        let device = try makePrefixDevice(slots: 4)
        let page = PageBuffer()
        page.fillPrefix(100, seed: 1)
        for slot in 0..<4 { try device.writePage(page.raw, at: slot) }
        try device.discard(bytesAt: 2048, length: 4096 * 2 + 2048)  // half of 0, all of 1 and 2
        #expect(try device.objectSize(0) == 102)
        #expect(try device.objectSize(1) == 0)
        #expect(try device.objectSize(2) == 0)
        #expect(try device.objectSize(3) == 102)
        device.checkInvariants()
    }

    @Test func aFailedPartialWriteLeavesThePageIntact() throws {
        let device = try makePrefixDevice(slots: 4, memLimit: 4096)
        let page = PageBuffer(), back = PageBuffer()
        page.fillRandom(seed: 1)
        try device.writePage(page.raw, at: 0)  // huge: the whole limit
        let patch = PageBuffer(size: 512)
        patch.fillRandom(seed: 2)
        #expect(throws: ZramError.self) { try device.write(patch.raw, at: 512) }
        try device.readPage(at: 0, into: back.bytes)
        #expect(back.equals(page))
    }
}
