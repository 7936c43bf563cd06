#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemPackage
import SystemSupport
import TestSupport
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

    @Test func aTemporaryFileHasNoNameAndLeavesNothing() throws {
        let directory = try ScratchDirectory("temporary")
        defer { directory.remove() }
        do {
            let file = try BackingFile.temporary(in: directory.path, blockCount: 4)
            file.checkInvariants()
            try patternPage(1).withUnsafeBytes { try file.writeBlock($0, at: 1) }
            #expect(directory.names == [], "O_TMPFILE: nothing in the directory, even while it is open")
            #expect(file.path == directory.path + "/(unnamed)")
            #expect(!file.hasRemovableName)
        }
        #expect(directory.names == [])
    }
}

/// Making a named file: 0600, never through a link, never over data unless asked, removed
/// only while the name is still ours.
@Suite struct BackingFileCreationTests {
    @Test func aCreatedFileIsPrivateAndRemovedOnClose() throws {
        let directory = try ScratchDirectory("create")
        defer { directory.remove() }
        let path = directory.path + "/tier.swap"
        let file = try BackingFile.create(at: path, blockCount: 8, options: [.removeOnClose, .uncached])
        file.checkInvariants()
        #expect(file.path == path && file.hasRemovableName)
        var info = stat()
        #expect(lstat(path, &info) == 0 && info.st_mode & 0o777 == 0o600 && Int(info.st_size) == 8 * 4096)
        file.close()
        #expect(directory.names == [])
    }

    @Test func aLinkPlantedAtThePathIsRefusedAndItsTargetUntouched() throws {
        let directory = try ScratchDirectory("link")
        defer { directory.remove() }
        let target = try directory.file("target", [1, 2, 3])
        let path = directory.path + "/tier.swap"
        #expect(symlink(target, path) == 0)
        for existing in [ExistingFilePolicy.refuseNonEmpty, .replaceRegularFile] {
            #expect(throws: PageStoreError.fileCreation(.symbolicLink(path: path))) {
                _ = try BackingFile.create(at: path, existing: existing, blockCount: 8)
            }
        }
        // Opening an existing file never follows a link either.
        let error = #expect(throws: PageStoreError.self) { _ = try BackingFile(path: path, options: [.create, .truncate]) }
        #expect(error == .io(errno: ELOOP, operation: "open \(path)"))
        #expect(directory.contents("target") == [1, 2, 3])
        #expect(directory.names == ["target", "tier.swap"])
    }

    @Test func aFileHoldingDataIsRefusedUnlessForced() throws {
        let directory = try ScratchDirectory("data")
        defer { directory.remove() }
        let path = try directory.file("tier.swap", [7, 7])
        #expect(throws: PageStoreError.fileCreation(.notEmpty(path: path, bytes: 2))) {
            _ = try BackingFile.create(at: path, blockCount: 8)
        }
        #expect(directory.contents("tier.swap") == [7, 7])
        let file = try BackingFile.create(at: path, existing: .replaceRegularFile, blockCount: 1)
        #expect(try file.blockCount() == 1)
        file.close()
        #expect(directory.names == [], "the replacement was ours, so it is removed")
    }

    @Test func closingLeavesAFileThatTookTheNameAlone() throws {
        let directory = try ScratchDirectory("renamed")
        defer { directory.remove() }
        let path = directory.path + "/tier.swap"
        let file = try BackingFile.create(at: path, blockCount: 1)
        #expect(rename(path, directory.path + "/moved") == 0)
        _ = try directory.file("tier.swap", [4])
        #expect(file.removeName() == .replacedByAnotherFile)
        file.close()
        #expect(directory.contents("tier.swap") == [4])
        #expect(directory.names == ["moved", "tier.swap"])
    }

    @Test func removeNameRunsOnceAndTheFileStaysUsable() throws {
        let directory = try ScratchDirectory("once")
        defer { directory.remove() }
        let file = try BackingFile.create(at: directory.path + "/f", blockCount: 2)
        defer { file.close() }
        #expect(file.removeName() == .removed)
        #expect(file.removeName() == .alreadyGone)
        try patternPage(3).withUnsafeBytes { try file.writeBlock($0, at: 1) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        try buffer.withUnsafeMutableBytes { try file.readBlock(1, into: $0) }
        #expect(buffer == patternPage(3) && directory.names == [])
    }

    @Test func withoutRemoveOnCloseTheFileStays() throws {
        let directory = try ScratchDirectory("keep")
        defer { directory.remove() }
        let kept = try BackingFile.create(at: directory.path + "/kept", options: [])
        kept.close()
        #expect(directory.names == ["kept"])
        let reopened = try BackingFile(path: directory.path + "/kept", options: [.removeOnClose])
        reopened.close()
        #expect(directory.names == [])
    }

    @Test func aFileThatCannotBeSizedIsRemovedAgain() throws {
        let directory = try ScratchDirectory("unsized")
        defer { directory.remove() }
        #expect(throws: PageStoreError.self) { _ = try BackingFile.create(at: directory.path + "/f", blockCount: Int.max / 2) }
        #expect(directory.names == [])
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

    @Test func directReadsUseTheFileWeMadeEvenAfterItsNameIsTaken() throws {
        let directory = try ScratchDirectory("direct")
        defer { directory.remove() }
        let path = directory.path + "/tier.swap"
        let file = try BackingFile.create(at: path, blockCount: 4, options: [.removeOnClose, .uncached])
        defer { file.close() }
        file.checkInvariants()
        #if os(Linux)
        #expect(file.readsDirectly, "/var/tmp's file system takes O_DIRECT, set with fcntl on our own file")
        #endif
        // Someone moves our file away and plants a link to a decoy at the path.
        #expect(rename(path, directory.path + "/moved") == 0)
        let decoy = try directory.file("decoy", [UInt8](repeating: 0xAA, count: 4 * 4096))
        #expect(symlink(decoy, path) == 0)
        try patternPage(2).withUnsafeBytes { try file.writeBlock($0, at: 2) }
        let aligned = alignedPage()
        defer { aligned.deallocate() }
        try file.readBlock(2, into: aligned)
        #expect(Array(aligned) == patternPage(2))
        file.checkInvariants()
        file.close()
        #expect(directory.names == ["decoy", "moved", "tier.swap"], "neither the link nor the decoy was removed")
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
