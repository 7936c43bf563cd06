import Testing

@testable import ProcessPager

@Suite struct ResidentRingTests {
    @Test func entriesPackSessionPageAndGeneration() {
        let entry = RingEntry(session: 4095, page: (1 << 35) - 1, generation: 255)
        #expect(entry.session == 4095)
        #expect(entry.page == (1 << 35) - 1)
        #expect(entry.generation == 255)
    }

    @Test func popsInPushOrder() {
        let ring = ResidentRing(minimumCapacity: 10)
        for page in 0..<100 { ring.push(RingEntry(session: 1, page: UInt64(page), generation: 1)) }
        #expect(ring.count == 100)
        for page in 0..<100 { #expect(ring.pop()?.page == UInt64(page)) }
        #expect(ring.pop() == nil)
        ring.checkInvariants()
    }

    @Test func aFullRingRefusesAndCountsTheRefusal() {
        let ring = ResidentRing(minimumCapacity: 1)
        #expect(ring.capacity == 1024)
        for page in 0..<1024 { #expect(ring.push(RingEntry(session: 0, page: UInt64(page), generation: 0))) }
        #expect(!ring.push(RingEntry(session: 0, page: 5000, generation: 0)))
        #expect(ring.droppedCount == 1)
        #expect(ring.pop()?.page == 0)
        #expect(ring.push(RingEntry(session: 0, page: 5000, generation: 0)))
        ring.checkInvariants()
    }

    @Test func capacityRoundsUpToAPowerOfTwo() {
        #expect(ResidentRing(minimumCapacity: 5000).capacity == 8192)
    }
}
