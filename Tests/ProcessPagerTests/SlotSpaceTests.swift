import PageStore
import Testing
import ZRAM

@testable import ProcessPager

@Suite struct SlotSpaceTests {
    static func zramSpace(chunks: Int = 2) -> SlotSpace {
        SlotSpace(maximumChunks: chunks) { _ in
            .zram(try ZramDevice(ZramConfiguration(disksize: SlotSpace.chunkSlots * 4096)), .none)
        }
    }

    static func page(_ seed: UInt8) -> [UInt8] { (0..<4096).map { UInt8(truncatingIfNeeded: Int($0) &* 31 &+ Int(seed)) } }

    @Test func slotsStartFromTheLowestAndChunksAreMadeOnDemand() throws {
        let space = Self.zramSpace()
        #expect(space.chunkCount == 0)
        let first = try #require(try space.allocate())
        let second = try #require(try space.allocate())
        #expect(first == 0 && second == 1)
        #expect(space.chunkCount == 1)
        #expect(space.usedSlots == 2)
        space.checkInvariants()
    }

    @Test func aStoredPageReadsBackAndTheLastReleaseFreesTheSlot() throws {
        let space = Self.zramSpace()
        let slot = try #require(try space.allocate())
        let original = Self.page(7)
        try original.withUnsafeBytes { try space.write($0, at: slot) }
        var back = [UInt8](repeating: 0, count: 4096)
        try back.withUnsafeMutableBytes { try space.read(slot, into: $0) }
        #expect(back == original)
        #expect(space.statistics.storedPages == 1)
        space.release(slot, swapIn: true)
        #expect(space.usedSlots == 0)
        #expect(space.statistics.storedPages == 0)
        #expect(space.statistics.notifyFree == 1)
        space.checkInvariants()
    }

    @Test func aSharedSlotSurvivesUntilItsLastUserReleasesIt() throws {
        let space = Self.zramSpace()
        let slot = try #require(try space.allocate())
        try Self.page(3).withUnsafeBytes { try space.write($0, at: slot) }
        space.retain(slot)
        #expect(space.useCount(slot) == 2)
        space.release(slot, swapIn: false)
        #expect(space.useCount(slot) == 1)
        #expect(space.statistics.storedPages == 1)
        space.release(slot, swapIn: false)
        #expect(space.useCount(slot) == 0)
        #expect(space.statistics.storedPages == 0)
    }

    @Test func aFullChunkLeadsToTheNextAndFreedLowSlotsAreReusedFirst() throws {
        let space = Self.zramSpace(chunks: 2)
        for _ in 0..<SlotSpace.chunkSlots { _ = try space.allocate() }
        let spill = try #require(try space.allocate())
        #expect(spill == SlotSpace.chunkSlots)
        #expect(space.chunkCount == 2)
        space.release(5, swapIn: false)
        #expect(try space.allocate() == 5)
        space.checkInvariants()
    }

    @Test func theLastChunkFullMeansNoSlot() throws {
        let space = Self.zramSpace(chunks: 1)
        for _ in 0..<SlotSpace.chunkSlots { _ = try space.allocate() }
        #expect(try space.allocate() == nil)
    }
}
