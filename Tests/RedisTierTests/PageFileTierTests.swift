import PageStore
import Testing

@testable import RedisTier

@Suite("PageFileTier: a backing file behind the same tier interface as the cluster")
struct PageFileTierTests {
    private func fill(_ batch: inout PageTierBatch, _ range: Range<Int>) throws {
        for i in range { try TestPages.object(i).withUnsafeBytes { _ = try batch.append($0) } }
    }

    private func read(_ tier: PageFileTier<some PageFile>, _ handle: PageTierHandle, count: Int = 4096) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let length = try buffer.withUnsafeMutableBytes { try tier.read(handle, into: $0) }
        return Array(buffer[0..<length])
    }

    @Test("Objects of any length up to a block go in and come back; freed blocks are reused")
    func roundTrip() throws {
        let file = try BackingFile.temporary(blockCount: 8)
        defer { file.close() }
        let tier = PageFileTier(file: file, blockCount: 8)
        var batch = PageTierBatch(capacity: 8, maxObjectSize: 4096)
        try fill(&batch, 0..<8)
        try tier.write(&batch)
        #expect(batch.acknowledgedCount == 8 && batch.failure == nil)
        let handles = (0..<8).compactMap { batch.handle(at: $0) }
        for (i, handle) in handles.enumerated() { #expect(try read(tier, handle) == TestPages.object(i)) }
        #expect(handles.allSatisfy { $0.rawValue != 0 })
        tier.free([handles[3]])
        #expect(throws: PageTierError.missing(handle: handles[3].rawValue)) { try read(tier, handles[3]) }
        batch.removeAll()
        try fill(&batch, 100..<101)
        try tier.write(&batch)
        #expect(batch.handle(at: 0) == handles[3])  // the block came back
        #expect(tier.tierStatistics.storedObjects == 8 && tier.tierStatistics.frees == 1)
        tier.checkInvariants()
    }

    @Test("A full file refuses the objects that do not fit, and keeps the others")
    func fullFileRefuses() throws {
        let file = try BackingFile.temporary(blockCount: 2)
        defer { file.close() }
        let tier = PageFileTier(file: file, blockCount: 2)
        var batch = PageTierBatch(capacity: 3, maxObjectSize: 4096)
        try fill(&batch, 0..<3)
        try tier.write(&batch)
        #expect(batch.acknowledgedCount == 2)
        #expect(batch.handle(at: 2) == nil)
        #expect(batch.failure.map { "\($0)" }?.contains("all in use") == true)
        #expect(tier.tierStatistics.refusedWrites == 1)
    }

    @Test("A failed write refuses the object and gives its block back; a bad read is corrupt or an I/O error, never a page")
    func faults() throws {
        let base = try BackingFile.temporary(blockCount: 4)
        defer { base.close() }
        let file = FaultInjectingBackingFile(wrapping: base)
        let tier = PageFileTier(file: file, blockCount: 4)
        var batch = PageTierBatch(capacity: 2, maxObjectSize: 4096)
        try fill(&batch, 2..<4)  // object 3 is 2963 bytes: the flipped middle byte is inside it
        file.inject(.error(errno: 28), on: .write, when: .call(1), times: 1)
        try tier.write(&batch)
        #expect(batch.handle(at: 0) == nil)
        let second = batch.handle(at: 1)
        let handle = try #require(second)
        #expect(batch.failure.map { "\($0)" }?.contains("28") == true)
        file.inject(.corrupt, on: .read, when: .always, times: 1)
        #expect {
            _ = try read(tier, handle)
        } throws: { error in
            guard case .corrupt = error as? PageTierError else { return false }
            return true
        }
        file.inject(.error(errno: 5), on: .read, when: .always, times: 1)
        #expect(throws: PageTierError.self) { _ = try read(tier, handle) }
        #expect(try read(tier, handle) == TestPages.object(3))
        #expect(throws: PageTierError.bufferTooSmall(needed: TestPages.object(3).count, available: 4)) { _ = try read(tier, handle, count: 4) }
        #expect(tier.tierStatistics.failedReads == 3)
        tier.checkInvariants()
    }

    @Test("Handles that name nothing read as missing and free as nothing", arguments: [UInt64(0), 5, 1 << 40])
    func unknownHandles(raw: UInt64) throws {
        let file = try BackingFile.temporary(blockCount: 4)
        defer { file.close() }
        let tier = PageFileTier(file: file, blockCount: 4)
        #expect(throws: PageTierError.missing(handle: raw)) { _ = try read(tier, PageTierHandle(rawValue: raw)) }
        tier.free([PageTierHandle(rawValue: raw)])
        #expect(tier.tierStatistics.frees == 0)
    }
}
