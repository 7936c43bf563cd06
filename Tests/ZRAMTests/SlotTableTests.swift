import Testing

@testable import ZRAM

@Suite struct SlotTableTests {
    @Test func costsSixteenBytesPerSlot() {
        #expect(SlotTable(count: 1000).bytes == 16_000)
    }

    @Test func tryLockFailsWhileLockedAndSucceedsAfterUnlock() {
        let table = SlotTable(count: 4)
        table.lock(2)
        #expect(table.isLocked(2))
        #expect(!table.tryLock(2))
        #expect(table.tryLock(1))
        table.unlock(1)
        table.unlock(2)
        #expect(!table.isLocked(2))
        #expect(table.tryLock(2))
        table.unlock(2)
        table.checkInvariants()
    }

    @Test func flagHelpersKeepTheSizeAndTheLock() {
        let table = SlotTable(count: 1)
        table.lock(0)
        table.setWord(0, 1234)
        table.setFlag(0, .huge)
        table.setFlag(0, .idle)
        #expect(table.size(0) == 1234)
        #expect(table.testFlag(0, .huge) && table.testFlag(0, .idle))
        table.clearFlag(0, .idle)
        #expect(!table.testFlag(0, .idle))
        #expect(table.isLocked(0))
        #expect(table.isAllocated(0))
        table.setFlag(0, .priorityBit1)
        #expect(table.priority(0) == 1)
        table.setHandle(0, 77)
        table.setAccessTime(0, 9)
        #expect(table.handle(0) == 77 && table.accessTime(0) == 9)
        table.setWord(0, 0)
        table.setHandle(0, 0)
        #expect(!table.isAllocated(0))
        table.unlock(0)
        table.checkInvariants()
    }

    @Test func lockSerializesThreadsIncrementingAHandle() async {
        let table = SlotTable(count: 1)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<10_000 {
                        table.lock(0)
                        table.setHandle(0, table.handle(0) + 1)
                        table.unlock(0)
                    }
                }
            }
        }
        table.lock(0)
        #expect(table.handle(0) == 40_000)
        table.setHandle(0, 0)
        table.unlock(0)
    }
}
