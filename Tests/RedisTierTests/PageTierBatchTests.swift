import Testing

@testable import RedisTier

@Suite("PageTierBatch: objects on their way to a tier, and what it did with each")
struct PageTierBatchTests {
    @Test("Appended objects are copied in; the caller's memory may change at once")
    func appendCopies() throws {
        var batch = PageTierBatch(capacity: 4, maxObjectSize: 16)
        var object: [UInt8] = [1, 2, 3]
        let index = try object.withUnsafeBytes { try batch.append($0) }
        object[0] = 99
        #expect(index == 0 && batch.count == 1)
        #expect(Array(batch.object(at: 0)) == [1, 2, 3])
        #expect(!batch.isAcknowledged(0) && batch.handle(at: 0) == nil)
        batch.checkInvariants()
    }

    @Test("Objects can be written straight into the batch")
    func appendFilling() throws {
        var batch = PageTierBatch(capacity: 2, maxObjectSize: 8)
        let index = try batch.append { (slot: UnsafeMutableRawBufferPointer) throws(PageTierError) -> Int in
            #expect(slot.count == 8)
            slot[0] = 7
            slot[1] = 6
            return 2
        }
        #expect(Array(batch.object(at: index)) == [7, 6])
    }

    @Test("Too large, too many, or a filler out of range: a clear error and the batch unchanged")
    func refusals() throws {
        var batch = PageTierBatch(capacity: 1, maxObjectSize: 4)
        let big = [UInt8](repeating: 0, count: 5)
        #expect(throws: PageTierError.objectTooLarge(size: 5, limit: 4)) { try big.withUnsafeBytes { _ = try batch.append($0) } }
        #expect {
            try batch.append { (_: UnsafeMutableRawBufferPointer) throws(PageTierError) -> Int in 5 }
        } throws: { error in
            guard case .tier(.objectTooLarge(5, 4))? = error as? PageTierBatch.AppendFailure<PageTierError> else { return false }
            return true
        }
        #expect {
            try batch.append { (_: UnsafeMutableRawBufferPointer) throws(PageTierError) -> Int in throw .closed }
        } throws: { error in
            guard case .filler(.closed)? = error as? PageTierBatch.AppendFailure<PageTierError> else { return false }
            return true
        }
        #expect(batch.count == 0)
        try [UInt8(1)].withUnsafeBytes { _ = try batch.append($0) }
        #expect(batch.isFull == true)
        #expect(throws: PageTierError.batchFull(capacity: 1)) { try [UInt8(1)].withUnsafeBytes { _ = try batch.append($0) } }
        #expect(batch.count == 1)
    }

    @Test("A tier acknowledges or refuses each object; a new write starts with none acknowledged")
    func results() throws {
        var batch = PageTierBatch(capacity: 3, maxObjectSize: 4)
        for i in 0..<3 { try [UInt8(i)].withUnsafeBytes { _ = try batch.append($0) } }
        batch.acknowledge(0, as: PageTierHandle(rawValue: 10))
        batch.acknowledge(2, as: PageTierHandle(rawValue: 12))
        batch.failure = .notAcknowledged("node down")
        #expect(batch.acknowledgedCount == 2)
        #expect(batch.handle(at: 2) == PageTierHandle(rawValue: 12))
        batch.refuse(2)
        #expect(batch.handle(at: 2) == nil)
        batch.checkInvariants()
        batch.resetResults()
        #expect(batch.acknowledgedCount == 0 && batch.failure == nil)
        batch.removeAll()
        #expect(batch.count == 0 && !batch.isFull)
    }
}
