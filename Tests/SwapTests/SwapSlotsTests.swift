import Synchronization
import Testing
@testable import Swap

@Suite struct SwapSlotsTests {
    @Test func allocationHandsOutEachSlotOnceUntilFull() {
        let slots = SwapSlots(slotCount: 64)
        var seen = Set<Int>()
        for _ in 0..<64 { if let s = slots.allocate() { seen.insert(s) } }
        #expect(seen.count == 64)
        #expect(slots.allocate() == nil)
        #expect(slots.inUse == 64)
        #expect(slots.isMoreThanHalfFull)
    }

    @Test func theOwnersFreeWaitsForTheLastReader() {
        let slots = SwapSlots(slotCount: 4)
        let s = slots.allocate()!
        slots.retain(s)  // a reader
        // The owner asks for notify; a reader still holds the slot: nothing is freed yet.
        #expect(slots.release(s, asking: .notify) == nil)
        #expect(slots.useCount(s) == 1)
        // The reader is last: it performs the owner's free.
        #expect(slots.release(s, asking: nil) == .notify)
        // Until finishFree, the slot cannot be handed out again.
        var others = Set<Int>()
        while let o = slots.allocate() { others.insert(o) }
        #expect(!others.contains(s))
        slots.finishFree(s)
        #expect(slots.allocate() == s)
    }

    @Test func aReaderAloneNeverChoosesNotify() {
        let slots = SwapSlots(slotCount: 2)
        let s = slots.allocate()!
        slots.retain(s)
        #expect(slots.release(s, asking: nil) == nil)
        #expect(slots.release(s, asking: .discard) == .discard)
        slots.finishFree(s)
        #expect(slots.checkInvariants() == 0)
    }

    @Test func concurrentAllocationNeverHandsOutASlotTwice() {
        let slots = SwapSlots(slotCount: 4096)
        let owners = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 4096)
        for i in 0..<4096 { (owners + i).initialize(to: Atomic<Int>(0)) }
        defer { owners.deinitialize(count: 4096); owners.deallocate() }
        let ownersAddress = UInt(bitPattern: owners)
        let duplicates = Atomic<Int>(0)
        onThreads(4) { _ in
            let owners = UnsafeMutablePointer<Atomic<Int>>(bitPattern: ownersAddress)!
            for _ in 0..<20_000 {
                guard let s = slots.allocate() else { continue }
                if owners[s].add(1, ordering: .relaxed).newValue != 1 { duplicates.add(1, ordering: .relaxed) }
                owners[s].subtract(1, ordering: .relaxed)
                if slots.release(s, asking: .discard) != nil { slots.finishFree(s) }
            }
        }
        #expect(duplicates.load(ordering: .relaxed) == 0)
        #expect(slots.checkInvariants() == 0)
    }
}
