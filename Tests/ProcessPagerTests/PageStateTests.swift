import Testing

@testable import ProcessPager

@Suite struct PageStateTests {
    @Test func emptyStateIsAllZeroAndHoldsNothing() {
        #expect(PageState.empty.rawValue == 0)
        #expect(PageState.empty.kind == .empty)
        #expect(PageState.empty.slot == nil)
    }

    @Test(arguments: [0, 1, 65_535, 1 << 24, Int(UInt32.max) - 1])
    func slotsRoundTripThroughTheWord(slot: Int) {
        let state = PageState(kind: .swapped, slot: slot, generation: 7)
        #expect(state.slot == slot)
        #expect(state.kind == .swapped)
        #expect(state.generation == 7)
        #expect(state.with(slot: nil).slot == nil)
        #expect(state.with(slot: nil).kind == .swapped)
    }

    @Test(arguments: [PageState.Kind.empty, .resident, .swapped, .evicting, .lost])
    func kindsSurviveFlagChanges(kind: PageState.Kind) {
        var state = PageState(kind: kind, slot: 42, generation: 100)
        state = state.setting(.moved).setting(.wake).setting(.clean).setting(.forkWindow).setting(.pinned).with(heat: 3)
        #expect(state.kind == kind)
        #expect(state.slot == 42)
        #expect(state.generation == 100)
        #expect(state.heat == 3)
        #expect(state.moved && state.wake && state.clean && state.forkWindow && state.pinned)
        state = state.setting(.wake, false).setting(.pinned, false)
        #expect(!state.wake && !state.pinned && state.moved)
    }

    @Test func epochIsFifteenBitsAndIndependentOfTheRest() {
        let state = PageState(kind: .swapped, slot: 9, generation: 3).with(epoch: 0x1_2345)
        #expect(state.epoch == 0x2345)
        #expect(state.slot == 9 && state.generation == 3 && state.kind == .swapped)
        #expect(!state.pinned)
    }

    @Test func generationWrapsAtSevenBitsWithoutTouchingTheKind() {
        let state = PageState(kind: .resident, slot: nil, generation: 127)
        let next = state.with(generation: state.nextGeneration)
        #expect(next.generation == 0)
        #expect(next.kind == .resident)
    }

    @Test(arguments: [(-1, 0), (0, 0), (2, 2), (3, 3), (9, 3)])
    func heatIsClampedToTwoBits(asked: Int, kept: Int) {
        let state = PageState(kind: .resident, slot: 1, generation: 5).with(heat: asked)
        #expect(state.heat == kept)
        #expect(state.slot == 1 && state.generation == 5)
    }

    @Test func descriptionNamesKindSlotAndFlags() {
        let text = PageState(kind: .evicting, slot: 5, generation: 1).setting(.moved).description
        #expect(text == "evicting slot=5 gen=1 moved")
    }
}
