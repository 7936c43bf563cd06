import Testing
@testable import ZSwap

@Suite struct SlotEntriesTests {
    @Test func locationChangesKeepTheLockAndClearReferenced() {
        let entries = SlotEntries(count: 4)
        #expect(entries.location(2) == .empty)
        entries.lock(2)
        entries.setPoolEntry(2, PoolEntry(handle: 77, size: 1234, isSameFilled: false, isRaw: false))
        entries.markReferenced(2)
        #expect(entries.isReferenced(2) && entries.isLocked(2))
        entries.setLocation(2, .file)
        #expect(entries.location(2) == .file)
        #expect(!entries.isReferenced(2))
        #expect(entries.isLocked(2))
        entries.unlock(2)
        #expect(!entries.isLocked(2))
        #expect(entries.location(2) == .file)
        entries.checkInvariants()
    }

    @Test(arguments: [
        PoolEntry(handle: 0x1234_0005, size: 1000, isSameFilled: false, isRaw: false),
        PoolEntry(handle: 0x1234_0005, size: 65536, isSameFilled: false, isRaw: true),
        PoolEntry(handle: 0xDEAD_BEEF_DEAD_BEEF, size: 0, isSameFilled: true, isRaw: false),
    ])
    func aPoolEntryReadsBackAsItWasSet(entry: PoolEntry) {
        let entries = SlotEntries(count: 2)
        entries.lock(1)
        entries.setPoolEntry(1, entry)
        #expect(entries.location(1) == .pool)
        #expect(entries.poolEntry(1) == entry)
        entries.setHandle(1, 99)
        #expect(entries.poolEntry(1).handle == 99 && entries.poolEntry(1).size == entry.size)
        entries.unlock(1)
        entries.checkInvariants()
        entries.lock(1)
        entries.setLocation(1, .empty)
        entries.unlock(1)
        entries.checkInvariants()
    }

    @Test func tryLockFailsOnAHeldSlotOnly() {
        let entries = SlotEntries(count: 2)
        #expect(entries.tryLock(0))
        #expect(!entries.tryLock(0))
        #expect(entries.tryLock(1))
        entries.unlock(0)
        entries.unlock(1)
        entries.checkInvariants()
    }

    @Test func clearReferencedReportsWhetherItWasSetEvenUnderAnotherThreadsLock() {
        let entries = SlotEntries(count: 1)
        entries.lock(0)
        entries.setPoolEntry(0, PoolEntry(handle: 1, size: 100, isSameFilled: false, isRaw: false))
        entries.markReferenced(0)
        #expect(entries.clearReferenced(0))
        #expect(!entries.clearReferenced(0))
        #expect(entries.isLocked(0) && entries.location(0) == .pool)
        #expect(entries.poolEntry(0).size == 100, "the referenced bit leaves the entry alone")
        entries.unlock(0)
    }
}
