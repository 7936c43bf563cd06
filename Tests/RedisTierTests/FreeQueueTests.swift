import Testing

@testable import RedisTier

@Suite("FreeQueue: frees waiting for the cluster")
struct FreeQueueTests {
    @Test("Handles come out in the order they went in, across the ring's end")
    func fifoAcrossWrap() {
        var queue = FreeQueue(capacity: 3)
        var pushed = queue.push(1) && queue.push(2)
        #expect(pushed)
        var popped = [queue.pop()]
        pushed = queue.push(3) && queue.push(4 | FreeQueue.cleanupBit)
        #expect(pushed)
        let count = queue.count
        #expect(count == 3)
        popped += [queue.pop(), queue.pop(), queue.pop(), queue.pop()]
        #expect(popped == [1, 2, 3, 4 | FreeQueue.cleanupBit, nil])
        queue.checkInvariants()
    }

    @Test("A full queue refuses more and keeps what it has")
    func fullRefuses() {
        var queue = FreeQueue(capacity: 2)
        let first = queue.push(1) && queue.push(2)
        let third = queue.push(3)
        let count = queue.count
        let oldest = queue.pop()
        #expect(first && !third)
        #expect(count == 2 && oldest == 1)
    }
}
