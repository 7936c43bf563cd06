import Synchronization
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

    @Test func retainIfUsedAddsAUserOnlyToASlotInUse() throws {
        let space = Self.zramSpace()
        #expect(!space.retainIfUsed(0), "no chunk made yet")
        #expect(!space.retainIfUsed(SlotSpace.chunkSlots * 5), "beyond every chunk")
        let slot = try #require(try space.allocate())
        try Self.page(9).withUnsafeBytes { try space.write($0, at: slot) }
        #expect(!space.retainIfUsed(slot + 1), "a free slot of a made chunk")
        #expect(space.retainIfUsed(slot))
        #expect(space.useCount(slot) == 2)
        space.release(slot, swapIn: false)
        space.release(slot, swapIn: false)
        #expect(space.useCount(slot) == 0)
        #expect(!space.retainIfUsed(slot), "freed by its last user")
        #expect(space.statistics.storedPages == 0)
        space.checkInvariants()
    }

    /// One thread allocates, writes and releases slots (the evictor and the fault reader) while
    /// another retains whatever slot number it reads and checks its bytes (the evictor looking at
    /// a relative's table): a retain never revives a slot being freed, and every slot ends free.
    @Test func retainsRacingLastReleasesNeverReviveAFreedSlot() async throws {
        let space = Self.zramSpace(chunks: 1)
        _ = try #require(try space.allocate())
        space.release(0, swapIn: false)
        let rounds = 20_000
        final class Shared: Sendable {
            let published = Atomic<Int>(-1)
            let done = Atomic<Bool>(false)
        }
        let shared = Shared()
        async let owner: Void = {
            for round in 0..<rounds {
                guard let slot = try? space.allocate() else { continue }
                try? Self.page(UInt8(truncatingIfNeeded: round)).withUnsafeBytes { try space.write($0, at: slot) }
                shared.published.store(slot, ordering: .releasing)
                space.release(slot, swapIn: false)
            }
            shared.done.store(true, ordering: .releasing)
        }()
        async let reader: Int = {
            var retained = 0
            var bytes = [UInt8](repeating: 0, count: 4096)
            while !shared.done.load(ordering: .acquiring) {
                let slot = shared.published.load(ordering: .acquiring)
                guard slot >= 0, space.retainIfUsed(slot) else { continue }
                // Held: the copy cannot be freed under this read.
                let read: Bool = (try? bytes.withUnsafeMutableBytes { try space.read(slot, into: $0) }) != nil
                #expect(read, "a retained slot reads")
                retained += 1
                space.release(slot, swapIn: false)
            }
            return retained
        }()
        _ = await owner
        let retained = await reader
        print("retainIfUsed won \(retained) races of \(rounds)")
        #expect(space.usedSlots == 0)
        #expect(space.statistics.storedPages == 0)
        space.checkInvariants()
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

    /// A page that compresses to about 1.5 KiB: `count` pseudo-random bytes, then zeros.
    static func halfRandomPage(_ seed: Int, count: Int = 1500) -> [UInt8] {
        var state = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<4096).map { i in
            guard i < count else { return 0 }
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
    }

    @Test func aPoolFullOfHolesIsCompactedAndEveryPageStillReadsBack() throws {
        let space = Self.zramSpace(chunks: 1)
        var slots: [Int] = []
        for i in 0..<2048 {
            let slot = try #require(try space.allocate())
            try Self.halfRandomPage(i).withUnsafeBytes { try space.write($0, at: slot) }
            slots.append(slot)
        }
        // Compact pools waste little: nothing to do.
        #expect(space.compactIfWasteful(wastePercent: 5) == 0)
        // Three of every four pages swapped in: holes all over the pool's spans.
        for (i, slot) in slots.enumerated() where i % 4 != 0 { space.release(slot, swapIn: true) }
        let before = space.statistics
        #expect(before.memUsedTotal - before.comprDataSize > 1 << 20)
        // A threshold above the waste leaves the pool alone.
        #expect(space.compactIfWasteful(wastePercent: 100) == 0)
        #expect(space.statistics.memUsedTotal == before.memUsedTotal)
        let freed = space.compactIfWasteful(wastePercent: 5)
        #expect(freed > 0)
        let after = space.statistics
        #expect(after.memUsedTotal == before.memUsedTotal - freed * 4096)
        #expect(after.storedPages == 512)
        var back = [UInt8](repeating: 0, count: 4096)
        for (i, slot) in slots.enumerated() where i % 4 == 0 {
            try back.withUnsafeMutableBytes { try space.read(slot, into: $0) }
            #expect(back == Self.halfRandomPage(i))
        }
        space.checkInvariants()
    }
}
