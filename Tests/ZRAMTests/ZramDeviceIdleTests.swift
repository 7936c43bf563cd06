import PageStore
import Testing

@testable import ZRAM

@Suite struct ZramDeviceIdleTests {
    @Test func markIdleAllMarksEveryStoredSlotAndAccessClearsIt() throws {
        let device = try makePrefixDevice(slots: 8)
        let page = PageBuffer()
        page.fillPrefix(100, seed: 1)
        try device.writePage(page.raw, at: 0)
        try device.writePage(page.raw, at: 1)
        page.fillWord(0)
        try device.writePage(page.raw, at: 2)
        #expect(device.markIdle(.all) == 3)
        #expect(try device.slotFlags(0).contains(.idle))
        #expect(try device.slotFlags(2).contains(.idle))
        #expect(try !device.slotFlags(5).contains(.idle), "empty slots are never idle")
        try device.readPage(at: 0, into: page.bytes)
        #expect(try !device.slotFlags(0).contains(.idle), "a read is an access")
        page.fillPrefix(50, seed: 2)
        try device.writePage(page.raw, at: 1)
        #expect(try !device.slotFlags(1).contains(.idle), "a write is an access")
        #expect(try device.slotFlags(2).contains(.idle))
        device.checkInvariants()
    }

    @Test func markIdleOlderThanSkipsRecentlyAccessedSlots() throws {
        let device = try makePrefixDevice(slots: 4)
        let page = PageBuffer()
        page.fillPrefix(100, seed: 1)
        try device.writePage(page.raw, at: 0)
        try device.writePage(page.raw, at: 1)
        // Pretend slot 0 was last touched an hour ago.
        device.table.lock(0)
        device.table.setAccessTime(0, device.now &- 3600)
        device.table.unlock(0)
        #expect(try device.secondsSinceAccess(0) >= 3600)
        #expect(device.markIdle(olderThan: 60) == 1)
        #expect(try device.slotFlags(0).contains(.idle))
        #expect(try !device.slotFlags(1).contains(.idle))
        #expect(device.markIdle(olderThan: 0) == 2)
    }

    @Test func discardClearsIdle() throws {
        let device = try makePrefixDevice(slots: 2)
        let page = PageBuffer()
        page.fillPrefix(10, seed: 1)
        try device.writePage(page.raw, at: 0)
        device.markIdle()
        device.discard(0)
        #expect(try device.slotFlags(0) == [])
        device.checkInvariants()
    }
}
