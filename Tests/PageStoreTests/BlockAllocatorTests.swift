#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
@testable import PageStore

@Suite struct BlockAllocatorTests {
    @Test func allocatesInOrderAndReusesTheLowestFreedBlockFirst() throws {
        let blocks = BlockAllocator(capacity: 200)
        for expected in 0..<150 { #expect(try blocks.allocate() == expected) }
        #expect(blocks.free(120))
        #expect(blocks.free(7))
        #expect(blocks.free(70))
        #expect(try blocks.allocate() == 7)
        #expect(try blocks.allocate() == 70)
        #expect(try blocks.allocate() == 120)
        #expect(try blocks.allocate() == 150)
        #expect(blocks.allocatedCount == 151)
        #expect(blocks.freeCount == 49)
        blocks.checkInvariants()
    }

    @Test(arguments: [1, 63, 64, 65, 130])
    func exhaustionIsENOSPCAndFreeingRecovers(capacity: Int) throws {
        let blocks = BlockAllocator(capacity: capacity)
        for _ in 0..<capacity { _ = try blocks.allocate() }
        let error = #expect(throws: PageStoreError.self) { _ = try blocks.allocate() }
        guard case .io(ENOSPC, _)? = error else { Issue.record("wrong error \(String(describing: error))"); return }
        #expect(blocks.allocatedCount == capacity)
        #expect(blocks.free(capacity - 1))
        #expect(try blocks.allocate() == capacity - 1)
        blocks.checkInvariants()
    }

    @Test func doubleFreeAndOutOfRangeChangeNothing() throws {
        let blocks = BlockAllocator(capacity: 10)
        let b = try blocks.allocate()
        #expect(blocks.free(b))
        #expect(!blocks.free(b))
        #expect(!blocks.free(-1))
        #expect(!blocks.free(10))
        #expect(blocks.allocatedCount == 0)
        blocks.checkInvariants()
    }

    @Test func reserveMarksChosenBlocksAndAllocationSkipsThem() throws {
        let blocks = BlockAllocator(capacity: 10)
        #expect(try blocks.reserve(0))
        #expect(try blocks.reserve(2))
        #expect(try !blocks.reserve(2))
        #expect(throws: PageStoreError.slotOutOfRange(slot: 10, slotCount: 10)) { try blocks.reserve(10) }
        #expect(try blocks.allocate() == 1)
        #expect(try blocks.allocate() == 3)
        #expect(blocks.isAllocated(2))
        #expect(!blocks.isAllocated(4))
        #expect(blocks.highWaterMark == 4)
        blocks.checkInvariants()
    }

    @Test func highWaterMarkFollowsTheHighestAllocatedBlock() throws {
        let blocks = BlockAllocator(capacity: 300)
        #expect(blocks.highWaterMark == 0)
        for _ in 0..<257 { _ = try blocks.allocate() }
        #expect(blocks.highWaterMark == 257)
        blocks.free(256)
        #expect(blocks.highWaterMark == 256)
    }

    @Test func concurrentAllocationsNeverHandOutABlockTwice() async throws {
        let blocks = BlockAllocator(capacity: 4000)
        let results = await withTaskGroup(of: [Int].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var mine: [Int] = []
                    for i in 0..<1000 {
                        guard let b = try? blocks.allocate() else { continue }
                        mine.append(b)
                        if i % 3 == 0 { blocks.free(mine.removeLast()) }
                    }
                    return mine
                }
            }
            var all: [Int] = []
            for await r in group { all += r }
            return all
        }
        #expect(Set(results).count == results.count)
        #expect(blocks.allocatedCount == results.count)
        blocks.checkInvariants()
    }
}
