import PageStore
import Testing

@testable import TierCrypto

@Suite("EncryptedPageTier: pages at rest in another tier are unreadable, and any change to them is a failed read")
struct EncryptedPageTierTests {
    private func write(_ tier: any PageTier, _ objects: [Int]) throws -> [PageTierHandle] {
        var batch = PageTierBatch(capacity: max(1, objects.count), maxObjectSize: 4096)
        for i in objects { try TestPages.object(i).withUnsafeBytes { _ = try batch.append($0) } }
        try tier.write(&batch)
        return (0..<objects.count).compactMap { batch.handle(at: $0) }
    }

    private func read(_ tier: any PageTier, _ handle: PageTierHandle) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let length = try buffer.withUnsafeMutableBytes { try tier.read(handle, into: $0) }
        return Array(buffer[0..<length])
    }

    @Test("Objects of every length come back as written, and the inner tier holds none of their bytes in clear", arguments: [1, 2, 16])
    func roundTrip(batchSize: Int) throws {
        let inner = MemoryTier()
        let tier = try EncryptedPageTier(wrapping: inner, capacity: 64)
        let handles = try write(tier, Array(0..<batchSize))
        #expect(handles.count == batchSize)
        for (i, handle) in handles.enumerated() {
            #expect(try read(tier, handle) == TestPages.object(i))
            let stored = try #require(inner.bytes(of: inner.handles[i]))
            #expect(stored.count == TestPages.object(i).count)  // ciphertext is as long as the object
            if stored.count >= 16 { #expect(stored != TestPages.object(i)) }
        }
        #expect(tier.tierStatistics.storedObjects == batchSize && tier.tierStatistics.acknowledgedWrites == batchSize)
        tier.checkInvariants()
        tier.free(handles)
        #expect(inner.handles.isEmpty)
        #expect(tier.tierStatistics.storedObjects == 0 && tier.tierStatistics.frees == batchSize)
        #expect(throws: PageTierError.missing(handle: handles[0].rawValue)) { try read(tier, handles[0]) }
        tier.checkInvariants()
    }

    @Test("The same page written twice is stored as two different ciphertexts (a fresh generation, so a fresh nonce, per write)")
    func freshNoncePerWrite() throws {
        let inner = MemoryTier()
        let tier = try EncryptedPageTier(wrapping: inner, capacity: 4)
        _ = try write(tier, [5, 5])
        let stored = inner.handles.map { inner.bytes(of: $0)! }
        #expect(stored.count == 2 && stored[0] != stored[1])
    }

    @Test("A changed byte anywhere in a block is a failed read (corrupt), and nothing is freed: the untouched bytes still read")
    func tamperedBlockFails() throws {
        let inner = MemoryTier()
        let tier = try EncryptedPageTier(wrapping: inner, capacity: 8)
        let handle = try #require(write(tier, [3]).first)
        let innerHandle = try #require(inner.handles.first)
        let original = try #require(inner.bytes(of: innerHandle))
        for position in [0, original.count / 2, original.count - 1] {
            var tampered = original
            tampered[position] ^= 0x01
            inner.replace(innerHandle, with: tampered)
            #expect {
                try read(tier, handle)
            } throws: { error in
                guard case PageTierError.corrupt(let h, _) = error else { return false }
                return h == handle.rawValue
            }
        }
        #expect(tier.authenticationFailureCount == 3 && tier.tierStatistics.failedReads == 3)
        #expect(tier.tierStatistics.storedObjects == 1 && inner.tierStatistics.frees == 0)
        inner.replace(innerHandle, with: original)
        #expect(try read(tier, handle) == TestPages.object(3))
        tier.checkInvariants()
    }

    @Test("Another slot's block put in a slot's place is a failed read, even with the same plaintext")
    func movedBlockFails() throws {
        let inner = MemoryTier()
        let tier = try EncryptedPageTier(wrapping: inner, capacity: 8)
        let handles = try write(tier, [7, 7])  // same bytes: only the slot and generation differ
        let innerHandles = inner.handles
        inner.replace(innerHandles[0], with: inner.bytes(of: innerHandles[1])!)
        #expect(throws: PageTierError.self) { try read(tier, handles[0]) }
        #expect(try read(tier, handles[1]) == TestPages.object(7))
        #expect(tier.tierStatistics.storedObjects == 2)
    }

    @Test("An older block of the same slot put back (a replay) is a failed read")
    func replayedBlockFails() throws {
        let inner = MemoryTier()
        let tier = try EncryptedPageTier(wrapping: inner, capacity: 1)  // one slot: the second write reuses it
        let first = try #require(write(tier, [9]).first)
        let old = try #require(inner.bytes(of: inner.handles[0]))
        tier.free([first])
        let second = try #require(write(tier, [9]).first)
        #expect(second == first)  // the same slot, a newer generation
        inner.replace(inner.handles[0], with: old)
        #expect(throws: PageTierError.self) { try read(tier, second) }
        #expect(tier.authenticationFailureCount == 1 && tier.tierStatistics.storedObjects == 1)
    }

    @Test("Over a real file without checksums of its own: a block changed on disk is a failed read, nothing freed")
    func tamperedFileBlockFails() throws {
        let file = try BackingFile.temporary(blockCount: 4)
        defer { file.close() }
        let fileTier = PageFileTier(file: file, blockCount: 4, checksums: false)
        let tier = try EncryptedPageTier(wrapping: fileTier, capacity: 4)
        let handles = try write(tier, [0, 1])
        #expect(try read(tier, handles[1]) == TestPages.object(1))
        var block = [UInt8](repeating: 0, count: 4096)
        try block.withUnsafeMutableBytes { try file.readBlock(0, into: $0) }
        #expect(Array(block[0..<TestPages.object(0).count]) != TestPages.object(0))  // not in clear on disk
        block[0] ^= 0x80
        try block.withUnsafeBytes { try file.writeBlock($0, at: 0) }
        #expect(throws: PageTierError.self) { try read(tier, handles[0]) }
        #expect(fileTier.allocatedBlocks == 2 && tier.tierStatistics.storedObjects == 2)
        #expect(try read(tier, handles[1]) == TestPages.object(1))
    }

    @Test("A full tier refuses what does not fit, keeps the rest, and says why")
    func fullTierRefuses() throws {
        let tier = try EncryptedPageTier(wrapping: MemoryTier(), capacity: 2)
        var batch = PageTierBatch(capacity: 3, maxObjectSize: 4096)
        for i in 0..<3 { try TestPages.object(i).withUnsafeBytes { _ = try batch.append($0) } }
        try tier.write(&batch)
        #expect(batch.acknowledgedCount == 2 && batch.handle(at: 2) == nil)
        #expect(batch.failure == .full(capacity: 2))
        #expect(tier.tierStatistics.refusedWrites == 1)
        tier.checkInvariants()
    }

    @Test("A key already used by one tier is refused by a second (two tiers could share a nonce)")
    func keyIsNotShared() throws {
        let key = try TierKey.random()
        _ = try EncryptedPageTier(wrapping: MemoryTier(), capacity: 1, key: key)
        #expect(throws: TierCryptoError.self) { try EncryptedPageTier(wrapping: MemoryTier(), capacity: 1, key: key) }
        #expect(throws: TierCryptoError.self) { try EncryptedPageTier(wrapping: MemoryTier(), capacity: 0) }
    }

    @Test("Encryption makes a tier unsafe in a signal handler, whatever the inner tier")
    func notSignalSafe() throws {
        let file = try BackingFile.temporary(blockCount: 1)
        defer { file.close() }
        let fileTier = PageFileTier(file: file, blockCount: 1)
        #expect(fileTier.isAsyncSignalSafe)
        #expect(try !EncryptedPageTier(wrapping: fileTier, capacity: 1).isAsyncSignalSafe)
    }
}
