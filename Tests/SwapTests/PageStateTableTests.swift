import Synchronization
import Testing
@testable import Swap

@Suite struct PageStateTableTests {
    @Test func fieldsPackAndUnpackIndependently() {
        var s = PageState.empty
        s.kind = .swapped
        s.hasSlot = true
        s.slot = 0xFFFF_FFFE
        s.credit = 2
        s.stamp = 0x12_3456
        s.isDirty = true
        #expect(s.kind == .swapped && s.hasSlot && s.slot == 0xFFFF_FFFE && s.credit == 2 && s.stamp == 0x12_3456 && s.isDirty)
        #expect(!s.isLocked && !s.isWriteProtected)
        s.isWriteProtected = true
        s.isDirty = false
        s.credit = 9  // saturates
        #expect(s.credit == PageState.maximumCredit && s.isWriteProtected && !s.isDirty && s.slot == 0xFFFF_FFFE)
        s.stamp = PageState.stampModulus + 5  // wraps
        #expect(s.stamp == 5)
    }

    @Test func tryLockFailsWhileLockedAndUnlockPublishes() {
        let table = PageStateTable(pageCount: 4)
        let locked = table.lock(2)
        #expect(locked == .empty)
        #expect(table.load(2).isLocked)
        #expect(table.tryLock(2, if: { _ in true }) == nil)
        table.unlock(2, to: .residentDirty())
        #expect(table.load(2) == .residentDirty())
        #expect(table.tryLock(2, if: { $0.kind == .swapped }) == nil)
        #expect(table.tryLock(2, if: { $0.kind == .resident }) == .residentDirty())
        table.unlock(2, to: .residentDirty())
        table.checkInvariants()
    }

    @Test func theLockExcludesOtherThreads() {
        let table = PageStateTable(pageCount: 1)
        let inside = Atomic<Int>(0)
        let overlaps = Atomic<Int>(0)
        onThreads(4) { _ in
            for _ in 0..<20_000 {
                let s = table.lock(0)
                if inside.add(1, ordering: .relaxed).newValue != 1 { overlaps.add(1, ordering: .relaxed) }
                var next = s
                next.slot = s.slot + 1
                inside.subtract(1, ordering: .relaxed)
                table.unlock(0, to: next)
            }
        }
        #expect(overlaps.load(ordering: .relaxed) == 0)
        #expect(table.load(0).slot == 80_000)
    }

    @Test func censusCountsKinds() {
        let table = PageStateTable(pageCount: 8)
        var swapped = PageState.empty
        swapped.kind = .swapped
        swapped.hasSlot = true
        _ = table.lock(1); table.unlock(1, to: .residentDirty())
        _ = table.lock(2); table.unlock(2, to: swapped)
        _ = table.lock(3); table.unlock(3, to: swapped)
        let c = table.census()
        #expect(c.resident == 1 && c.swapped == 2 && c.slotsHeldByResident == 0)
    }
}
