#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemPackage
import Testing
@testable import PageStore

/// A page whose every byte depends on `seed` and its position.
func patternPage(_ seed: Int, size: Int = 4096) -> [UInt8] {
    (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 131 &+ ($0 >> 8)) }
}

@Suite struct BackingFileTests {
    @Test func pagesRoundTripAtTheirBlocks() throws {
        let file = try BackingFile.temporary(blockCount: 16)
        defer { file.close() }
        for block in [0, 5, 15, 20] {
            try patternPage(block).withUnsafeBytes { try file.writeBlock($0, at: block) }
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        for block in [0, 5, 15, 20] {
            try buffer.withUnsafeMutableBytes { try file.readBlock(block, into: $0) }
            #expect(buffer == patternPage(block))
        }
        // A block never written inside the file reads as zeros; writing past the end grew it.
        try buffer.withUnsafeMutableBytes { try file.readBlock(3, into: $0) }
        #expect(buffer.allSatisfy { $0 == 0 })
        #expect(try file.blockCount() == 21)
        #expect(file.ioCounters.writes == 4)
        #expect(file.ioCounters.reads == 5)
    }

    @Test func readPastTheEndIsATypedIOError() throws {
        let file = try BackingFile.temporary(blockCount: 2)
        defer { file.close() }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let error = #expect(throws: PageStoreError.self) {
            try buffer.withUnsafeMutableBytes { try file.readBlock(2, into: $0) }
        }
        guard case .io(let code, let operation)? = error else { Issue.record("not an I/O error: \(String(describing: error))"); return }
        #expect(code == EIO)
        #expect(operation.contains("end of file"))
        #expect(file.ioCounters.failedReads == 1)
    }

    @Test func aHalfBlockAtTheEndIsAShortReadError() throws {
        let file = try BackingFile.temporary()
        defer { file.close() }
        // Make the file 1.5 blocks long through the descriptor.
        let half = [UInt8](repeating: 9, count: 6144)
        #expect(half.withUnsafeBytes { pwrite(file.fileDescriptor, $0.baseAddress, 6144, 0) } == 6144)
        var buffer = [UInt8](repeating: 0, count: 4096)
        let error = #expect(throws: PageStoreError.self) {
            try buffer.withUnsafeMutableBytes { try file.readBlock(1, into: $0) }
        }
        guard case .io(EIO, let operation)? = error else { Issue.record("wrong error \(String(describing: error))"); return }
        #expect(operation.contains("after 2048 of 4096"))
    }

    @Test func shortTransfersContinueAndEINTRRetries() {
        // A step that moves at most 1000 bytes and fails with EINTR every third call.
        var calls = 0
        let outcome = BackingFile.transferFully(byteCount: 4096) { done in
            calls += 1
            if calls % 3 == 0 { errno = EINTR; return -1 }
            return min(1000, 4096 - done)
        }
        #expect(outcome == .done)
        #expect(calls == 7)  // 5 transfers, 2 interruptions
        let failing = BackingFile.transferFully(byteCount: 4096) { done in
            if done >= 2000 { errno = ENOSPC; return -1 }
            return 1000
        }
        #expect(failing == .failed(errno: .noSpace, done: 2000))
        #expect(BackingFile.transferFully(byteCount: 4096) { $0 == 0 ? 100 : 0 } == .endOfFile(done: 100))
    }

    @Test func wrongBufferSizesAndNegativeBlocksAreRejected() throws {
        let file = try BackingFile.temporary(blockCount: 2)
        defer { file.close() }
        var small = [UInt8](repeating: 0, count: 100)
        #expect(throws: PageStoreError.wrongPageSize(expected: 4096, actual: 100)) {
            try small.withUnsafeMutableBytes { try file.readBlock(0, into: $0) }
        }
        let page = patternPage(1)
        #expect(throws: PageStoreError.self) { try page.withUnsafeBytes { try file.writeBlock($0, at: -1) } }
        #expect(file.ioCounters.writes == 0)
    }

    @Test func aClosedFileThrowsEBADF() throws {
        let file = try BackingFile.temporary(blockCount: 2)
        file.close()
        #expect(file.isClosed)
        var buffer = [UInt8](repeating: 0, count: 4096)
        let error = #expect(throws: PageStoreError.self) {
            try buffer.withUnsafeMutableBytes { try file.readBlock(0, into: $0) }
        }
        #expect(error == .io(errno: EBADF, operation: "read of block 0 (offset 0) after 0 of 4096 bytes"))
        #expect(throws: PageStoreError.self) { try file.sync() }
        file.close()  // twice is fine
    }

    @Test func openingAMissingFileWithoutCreateFails() {
        let error = #expect(throws: PageStoreError.self) {
            _ = try BackingFile(path: "/nonexistent-dir-uswap/file", options: [])
        }
        guard case .io(ENOENT, _)? = error else { Issue.record("wrong error \(String(describing: error))"); return }
    }

    @Test func exclusiveCreateRefusesAnExistingFile() throws {
        let file = try BackingFile.temporary()
        defer { file.close() }
        #expect(throws: PageStoreError.self) {
            _ = try BackingFile(path: file.path, options: [.create, .exclusive])
        }
    }

    @Test func badPageSizesAreRejected() {
        #expect(throws: PageStoreError.self) { _ = try BackingFile.temporary(pageSize: 3000) }
    }

    @Test func punchingAHoleFreesDiskBlocksAndReadsZeros() throws {
        let file = try BackingFile.temporary(in: "/tmp", blockCount: 0)
        defer { file.close() }
        for block in 0..<64 { try patternPage(block).withUnsafeBytes { try file.writeBlock($0, at: block) } }
        try file.sync()
        let before = try file.allocatedBytes()
        #expect(before >= 64 * 4096)
        #if os(Linux)
        let punched = try file.punchHole(at: 8, count: 32)
        #expect(punched, "the file system under /tmp cannot punch holes")
        let after = try file.allocatedBytes()
        #expect(after <= before - 32 * 4096)
        #expect(try file.blockCount() == 64)  // KEEP_SIZE
        var buffer = [UInt8](repeating: 1, count: 4096)
        try buffer.withUnsafeMutableBytes { try file.readBlock(20, into: $0) }
        #expect(buffer.allSatisfy { $0 == 0 })
        try buffer.withUnsafeMutableBytes { try file.readBlock(40, into: $0) }
        #expect(buffer == patternPage(40))
        #expect(file.ioCounters.punches == 1)
        #endif
    }

    @Test func truncateSetsTheSizeInBlocks() throws {
        let file = try BackingFile.temporary(blockCount: 10)
        defer { file.close() }
        #expect(try file.blockCount() == 10)
        try file.truncate(toBlocks: 3)
        #expect(try file.blockCount() == 3)
        #expect(throws: PageStoreError.self) { try file.truncate(toBlocks: -1) }
    }

    @Test func removeOnCloseUnlinksThePathAndOthersKeepIt() throws {
        let removed = try BackingFile.temporary()
        let path = removed.path
        #expect(access(path, F_OK) == 0)
        removed.close()
        #expect(access(path, F_OK) != 0)

        let keptPath = "/tmp/uswap-keep-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let kept = try BackingFile(path: keptPath, options: [.create, .exclusive])
        kept.close()
        #expect(access(keptPath, F_OK) == 0)
        unlink(keptPath)
    }

    @Test func releasingTheObjectClosesAndRemoves() throws {
        var path = ""
        do {
            let file = try BackingFile.temporary()
            path = file.path
        }
        #expect(access(path, F_OK) != 0)
    }
}

/// `.uncached`: the file tier's pages leave memory, and reads still see every write.
@Suite struct BackingFileUncachedTests {
    /// A page-aligned page buffer (O_DIRECT needs alignment), freed by the caller.
    func alignedPage() -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 4096)
    }

    @Test func readsSeeWritesThroughBothDescriptors() throws {
        let file = try BackingFile.temporary(in: "/var/tmp", blockCount: 8, options: [.uncached])
        defer { file.close() }
        let aligned = alignedPage()
        defer { aligned.deallocate() }
        for block in 0..<8 {
            try patternPage(block).withUnsafeBytes { try file.writeBlock($0, at: block) }
        }
        // Straight after the buffered write (dirty in the cache): the direct read sees it.
        for block in 0..<8 {
            try file.readBlock(block, into: aligned)
            #expect(Array(aligned) == patternPage(block))
        }
        // An unaligned buffer takes the buffered path and reads the same bytes.
        var unaligned = [UInt8](repeating: 0, count: 4097)
        try unaligned.withUnsafeMutableBytes { raw in
            try file.readBlock(3, into: UnsafeMutableRawBufferPointer(rebasing: raw[1...]))
        }
        #expect(Array(unaligned[1...]) == patternPage(3))
        // Overwrite, then read again: never the old page.
        try patternPage(99).withUnsafeBytes { try file.writeBlock($0, at: 5) }
        try file.readBlock(5, into: aligned)
        #expect(Array(aligned) == patternPage(99))
        #expect(file.ioCounters.reads == 10)
    }

    @Test func writtenBlocksLeaveThePageCache() throws {
        #if os(Linux)
        let blocks = 512
        let cached = try BackingFile.temporary(in: "/var/tmp", blockCount: blocks)
        defer { cached.close() }
        let uncached = try BackingFile.temporary(in: "/var/tmp", blockCount: blocks, options: [.uncached])
        defer { uncached.close() }
        for block in 0..<blocks {
            try patternPage(block).withUnsafeBytes { page in
                try cached.writeBlock(page, at: block)
                try uncached.writeBlock(page, at: block)
            }
        }
        // Every block but the last uncachedWriteDepth ones was dropped once written.
        let kept = try #require(uncached.cachedBytes())
        let aligned = alignedPage()
        defer { aligned.deallocate() }
        for block in stride(from: 0, to: blocks, by: 7) {
            try uncached.readBlock(block, into: aligned)
            #expect(Array(aligned) == patternPage(block))
        }
        let plain = try #require(cached.cachedBytes())
        #expect(plain >= blocks * 4096 / 2, "a plain file keeps its written pages cached")
        #expect(kept <= BackingFile.uncachedWriteDepth * 4096, "cached: \(kept) bytes")
        // Direct reads did not bring any back.
        #expect(try #require(uncached.cachedBytes()) <= BackingFile.uncachedWriteDepth * 4096)
        #else
        print("skipped: page cache residency is measured with Linux calls")
        #endif
    }
}

@Suite struct BackingFilePreallocationTests {
    @Test func preallocatedBlocksTakeDiskSpaceAndReadAsZeros() throws {
        let file = try BackingFile.temporary(in: "/var/tmp", blockCount: 0)
        defer { file.close() }
        let allocated = try file.preallocate(blocks: 64)
        #expect(try file.blockCount() == 64)
        #if os(Linux)
        #expect(allocated, "ext4 and xfs allocate with fallocate")
        #expect(try file.allocatedBytes() >= 64 * 4096)
        #endif
        var buffer = [UInt8](repeating: 1, count: 4096)
        try buffer.withUnsafeMutableBytes { try file.readBlock(63, into: $0) }
        #expect(buffer.allSatisfy { $0 == 0 })
        try patternPage(5).withUnsafeBytes { try file.writeBlock($0, at: 5) }
        try buffer.withUnsafeMutableBytes { try file.readBlock(5, into: $0) }
        #expect(buffer == patternPage(5))
        #expect(throws: PageStoreError.self) { try file.preallocate(blocks: -1) }
    }
}

@Suite struct BackingFileTemporaryTests {
    @Test func aTemporaryFileThatCannotBeSetUpLeavesNothingBehind() throws {
        let directory = "/var/tmp/uswap-temporary-test-\(getpid())"
        #expect(mkdir(directory, 0o700) == 0)
        defer { rmdir(directory) }
        #expect(throws: PageStoreError.self) { _ = try BackingFile.temporary(in: directory, pageSize: 3000) }
        #expect(throws: PageStoreError.self) { _ = try BackingFile.temporary(in: directory, blockCount: -1) }
        #expect(rmdir(directory) == 0, "the directory is empty again")
        #expect(mkdir(directory, 0o700) == 0)
    }
}
