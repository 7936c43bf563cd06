import Testing
import ZRAM

@testable import ProcessPager

@Suite struct SessionTests {
    static func space() -> SlotSpace {
        SlotSpace(maximumChunks: 1) { _ in .zram(try ZramDevice(ZramConfiguration(disksize: SlotSpace.chunkSlots * 4096)), .none) }
    }

    @Test func aSessionReleasesItsUseOfEverySlotItsTableNamesWhenItGoes() throws {
        let slots = Self.space()
        let indices = SessionIndices()
        let page = [UInt8](repeating: 9, count: 4096)
        var shared = 0
        do {
            let index = try #require(indices.take())
            let session = try Session(
                index: index, uffd: -1, scratchBase: 0x7000_0000_0000, isForkChild: false, parentPid: 0, slots: slots, indices: indices)
            session.checkInvariants()
            for p in 0..<10 {
                let slot = try #require(try slots.allocate())
                try page.withUnsafeBytes { try slots.write($0, at: slot) }
                session.table.store(UInt64(0x1000 + p), PageState(kind: .swapped, slot: slot, generation: 0))
                if p == 0 {
                    slots.retain(slot)  // as a fork child would
                    shared = slot
                }
            }
            #expect(slots.usedSlots == 10)
            #expect(indices.isInUse(index))
        }
        #expect(slots.usedSlots == 1, "only the slot a child still uses stays")
        #expect(slots.useCount(shared) == 1)
        slots.checkInvariants()
    }

    @Test func theScratchAreaIsTwoHalvesOfSixtyFourPages() throws {
        let indices = SessionIndices()
        let session = try Session(
            index: try #require(indices.take()), uffd: -1, scratchBase: 0x10_0000, isForkChild: true, parentPid: 42,
            slots: Self.space(), indices: indices)
        #expect(session.inScratch(0x10_0000))
        #expect(session.inScratch(0x10_0000 + 128 * 4096 - 1))
        #expect(!session.inScratch(0x10_0000 + 128 * 4096))
        #expect(session.halfBase(1) == 0x10_0000 + 64 * 4096)
        #expect(session.freeHalf == 0)
        session.halves[0] = .holding
        #expect(session.freeHalf == 1)
        #expect(session.holdingHalf == 0)
        session.halves[1] = .moving
        #expect(session.freeHalf == nil)
    }

    @Test func anIndexComesBackOnlyWhenItsSessionIsGone() throws {
        let indices = SessionIndices()
        let first = try #require(indices.take())
        #expect(indices.isInUse(first))
        indices.give(first)
        #expect(!indices.isInUse(first))
        #expect(indices.take() == first)
    }
}
