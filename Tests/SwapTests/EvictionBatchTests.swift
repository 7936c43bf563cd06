import Testing
@testable import Swap

@Suite struct EvictionBatchTests {
    /// A resident page's state: dirty, or clean with its lazy copy in `slot`.
    func resident(dirty: Bool, slot: Int? = nil) -> PageState {
        var state = PageState.empty
        state.kind = .resident
        state.isDirty = dirty
        if let slot {
            state.hasSlot = true
            state.slot = slot
        }
        return state
    }

    @Test func aBatchHoldsUpToItsCapacityInOrder() {
        var batch = EvictionBatch()
        #expect(batch.isEmpty && !batch.isFull)
        for k in 0..<EvictionBatch.capacity { batch.append(page: 10 + 2 * k, state: resident(dirty: true)) }
        #expect(batch.isFull && batch.count == 64)
        #expect(batch.firstPage == 10)
        #expect(batch.page(63) == 136)
        #expect((0..<batch.count).allSatisfy { batch.slot($0) == -1 && batch.isLive($0) })
        batch.removeAll()
        #expect(batch.isEmpty)
    }

    @Test func aBatchWithALimitIsFullAtItsLimit() {
        var batch = EvictionBatch(limit: SwapTuning.inFaultEvictionBatch)
        for k in 0..<(SwapTuning.inFaultEvictionBatch - 1) { batch.append(page: k, state: resident(dirty: true)) }
        #expect(!batch.isFull)
        batch.append(page: 100, state: resident(dirty: true))
        #expect(batch.isFull && batch.count == SwapTuning.inFaultEvictionBatch && batch.lastPage == 100)
        batch.removeAll()
        #expect(batch.isEmpty && batch.limit == SwapTuning.inFaultEvictionBatch, "the limit stays for the next round")
    }

    @Test func theDirtySpanSkipsCleanAndDroppedVictims() {
        var batch = EvictionBatch()
        #expect(batch.dirtySpan == nil)
        batch.append(page: 3, state: resident(dirty: false, slot: 9))  // clean: a lazy copy
        batch.append(page: 5, state: resident(dirty: true))
        batch.append(page: 8, state: resident(dirty: false))            // no slot: must be stored
        batch.append(page: 12, state: resident(dirty: true, slot: 4))   // dirty: its copy is stale
        batch.append(page: 20, state: resident(dirty: true))
        #expect(batch.isClean(0) && !batch.isClean(1) && !batch.isClean(2) && !batch.isClean(3))
        #expect(batch.dirtySpan! == (5, 20))
        batch.drop(4)
        #expect(!batch.isLive(4))
        #expect(batch.dirtySpan! == (5, 12))
        batch.drop(1)
        batch.drop(2)
        batch.drop(3)
        #expect(batch.dirtySpan == nil, "only the clean victim is left")
    }

    @Test func aVictimKeepsItsStateAndRecordsItsNewSlot() {
        var batch = EvictionBatch()
        let state = resident(dirty: true, slot: 77)
        batch.append(page: 1, state: state)
        batch.setSlot(0, 5)
        #expect(batch.state(0) == state)
        #expect(batch.slot(0) == 5)
    }
}
