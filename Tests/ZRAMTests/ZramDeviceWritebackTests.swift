import Foundation
import PageCodecs
import PageStore
import Synchronization
import Testing

@testable import ZRAM

/// A PrefixCodec device (exact object sizes) with a temporary backing file of `blocks` blocks;
/// `wrap` may put a `FaultInjectingBackingFile` between them. Close the returned file when done.
func makeWritebackDevice(
    slots: Int, blocks: Int, pageSize: Int = 4096, checksums: Bool = false, memLimit: Int = 0,
    automatic: ZramAutomaticWriteback? = nil, secondaryPadding: Int? = nil,
    wrap: (BackingFile) -> any PageFile = { $0 }
) throws -> (ZramDevice, BackingFile) {
    let file = try BackingFile.temporary(pageSize: pageSize, blockCount: blocks)
    var configuration = ZramConfiguration(disksize: slots * pageSize, pageSize: pageSize, memLimit: memLimit)
    configuration.backingDevice = ZramBackingDevice(file: wrap(file), blockCount: blocks, checksums: checksums)
    configuration.automaticWriteback = automatic
    let device: ZramDevice
    if let secondaryPadding {
        device = try ZramDevice(
            configuration,
            makeCodec: { () throws(CodecError) -> any PageCodec in PrefixCodec() },
            makeSecondaryCodec: { () throws(CodecError) -> any PageCodec in PrefixCodec(padding: secondaryPadding) })
    } else {
        device = try ZramDevice(configuration, makeCodec: { () throws(CodecError) -> any PageCodec in PrefixCodec() })
    }
    return (device, file)
}

/// The page a test stores at `slot`: compressible (`prefix` nonzero bytes), huge (prefix 4000)
/// or same-filled, always different per slot.
func writebackTestPage(_ page: PageBuffer, slot: Int, kind: Character, version: UInt64 = 0) {
    switch kind {
    case "s": page.fillWord(0x0101_0101_0000_0000 | UInt64(slot) | version << 16)
    case "h": page.fillPrefix(4000, seed: UInt64(slot + 1) &* 31 &+ version)
    default: page.fillPrefix(100 + 37 * slot, seed: UInt64(slot + 1) &* 31 &+ version)
    }
}

/// Reads `slot` and compares it with the page `fill` makes.
func expectReadsBack(_ device: ZramDevice, _ slot: Int, _ fill: (PageBuffer) -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
    let expected = PageBuffer(), got = PageBuffer()
    fill(expected)
    got.bytes.initializeMemory(as: UInt8.self, repeating: 0xEE)
    do {
        try device.readPage(at: slot, into: got.bytes)
        #expect(got.equals(expected), "slot \(slot) read back different bytes", sourceLocation: sourceLocation)
    } catch {
        Issue.record("read of slot \(slot) failed: \(error)", sourceLocation: sourceLocation)
    }
}

/// A writeback device over a fault-injecting file with slots `0..<storing` holding
/// compressible test pages ("c"); the caller closes the file.
func makeFaultyDevice(slots: Int, storing: Int) throws -> (ZramDevice, BackingFile, FaultInjectingBackingFile) {
    var faulty: FaultInjectingBackingFile? = nil
    let (device, file) = try makeWritebackDevice(slots: slots, blocks: slots) { base in
        let wrapper = FaultInjectingBackingFile(wrapping: base)
        faulty = wrapper
        return wrapper
    }
    let page = PageBuffer()
    for slot in 0..<storing {
        writebackTestPage(page, slot: slot, kind: "c")
        try device.writePage(page.raw, at: slot)
    }
    return (device, file, try #require(faulty))
}

@Suite struct ZramDeviceWritebackTests {
    /// Slots 0-3 small idle, 4-7 huge incompressible idle, 8-11 huge busy, 12-13 same-filled
    /// idle, 14 small busy, 15 empty.
    static let kinds: [Character] = ["c", "c", "c", "c", "h", "h", "h", "h", "h", "h", "h", "h", "s", "s", "c", "e"]

    static func layout() throws -> (ZramDevice, BackingFile) {
        let (device, file) = try makeWritebackDevice(slots: 16, blocks: 32, checksums: true, secondaryPadding: 0)
        let page = PageBuffer()
        for slot in 0..<8 where kinds[slot] != "e" {
            writebackTestPage(page, slot: slot, kind: kinds[slot])
            try device.writePage(page.raw, at: slot)
        }
        // 4-7 are huge; recompression finds no codec that shrinks them: INCOMPRESSIBLE.
        try device.recompress(type: .huge)
        for slot in 8..<16 where kinds[slot] != "e" {
            writebackTestPage(page, slot: slot, kind: kinds[slot])
            try device.writePage(page.raw, at: slot)
        }
        device.markIdle(.all)
        for slot in [8, 9, 10, 11, 14] { try device.readPage(at: slot, into: page.bytes) }  // busy again
        return (device, file)
    }

    @Test(arguments: [
        (ZramWritebackMode.idle, [0, 1, 2, 3, 4, 5, 6, 7]),
        (.huge, [4, 5, 6, 7, 8, 9, 10, 11]),
        (.hugeIdle, [4, 5, 6, 7]),
        (.incompressible, [4, 5, 6, 7]),
        (.slot(2), [2]),
        (.slot(9), [9]),
        (.slot(12), []),  // same-filled: skipped
        (.slot(15), []),  // empty: skipped
    ])
    func everyModeWritesBackExactlyItsSlotsAndTheyReadBack(mode: ZramWritebackMode, expected: [Int]) throws {
        let (device, file) = try Self.layout()
        defer { file.close() }
        let before = device.mmStat
        let written = try device.writeback(mode)
        #expect(written == expected.count)
        for slot in 0..<16 {
            let flags = try device.slotFlags(slot)
            #expect(flags.contains(.writtenBack) == expected.contains(slot), "slot \(slot): \(flags)")
            #expect(device.readNeedsIO(at: slot) == expected.contains(slot))
        }
        #expect(device.bdStat == ZramBDStat(count: expected.count, reads: 0, writes: expected.count))
        #expect(device.bdStat.line == "\(kernelField(expected.count)) \(kernelField(0)) \(kernelField(expected.count))\n")
        let after = device.mmStat
        #expect(after.origDataSize == before.origDataSize, "written-back pages still count as stored")
        #expect(after.hugePages == before.hugePages - expected.filter { Self.kinds[$0] == "h" }.count)
        #expect(after.comprDataSize < before.comprDataSize || expected.isEmpty)
        device.checkInvariants()
        // Every slot reads back its own bytes, from memory or from the file.
        for slot in 0..<15 {
            expectReadsBack(device, slot) { writebackTestPage($0, slot: slot, kind: Self.kinds[slot]) }
        }
        #expect(device.bdStat.reads == expected.count)
        #expect(device.statistics.fileReads == expected.count)
        #expect(device.statistics.writtenBack == expected.count)
        // Written-back slots are skipped from then on.
        #expect(try device.writeback(mode) == 0)
        #expect(device.bdStat.writes == expected.count)
        device.checkInvariants()
    }

    @Test func sectorReadsOfAWrittenBackPageComeFromTheFile() throws {
        let (device, file) = try makeWritebackDevice(slots: 4, blocks: 4)
        defer { file.close() }
        let page = PageBuffer()
        writebackTestPage(page, slot: 1, kind: "c")
        try device.writePage(page.raw, at: 1)
        #expect(try device.writeback(.slot(1)) == 1)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 16)
        defer { buffer.deallocate() }
        try device.read(into: buffer, at: 4096 + 512)
        #expect(memcmp(buffer.baseAddress!, page.bytes.baseAddress! + 512, 1024) == 0)
        #expect(device.bdStat.reads == 1)
    }

    @Test func bdStatCountsFourKiBUnitsOnLargerPages() throws {
        let (device, file) = try makeWritebackDevice(slots: 8, blocks: 8, pageSize: 16384)
        defer { file.close() }
        let page = PageBuffer(size: 16384)
        for slot in 0..<3 {
            page.fillPrefix(500 + slot, seed: UInt64(slot))
            try device.writePage(page.raw, at: slot)
        }
        device.markIdle()
        #expect(try device.writeback(.idle) == 3)
        try device.readPage(at: 0, into: page.bytes)
        #expect(device.bdStat == ZramBDStat(count: 12, reads: 4, writes: 12))
        #expect(device.bdStat.line == "      12        4       12\n")
        #expect(device.statistics.writtenBack == 3)
        #expect(device.statistics.fileReads == 1)
    }

    @Test func theWritebackLimitStopsWritebackAndThrowsWhenUsedUp() throws {
        let (device, file) = try makeWritebackDevice(slots: 16, blocks: 16)
        defer { file.close() }
        let page = PageBuffer()
        for slot in 0..<10 {
            writebackTestPage(page, slot: slot, kind: "c")
            try device.writePage(page.raw, at: slot)
        }
        device.markIdle()
        device.writebackLimit = 3
        device.writebackLimitEnabled = true
        #expect(try device.writeback(.idle) == 3)
        #expect(device.writebackLimit == 0)
        #expect(device.bdStat.count == 3)
        #expect(throws: ZramError.writebackLimitReached(limit: 0)) { try device.writeback(.idle) }
        #expect(device.bdStat.count == 3, "nothing more was written")
        #expect(ZramError.writebackLimitReached(limit: 0).description.contains("writebackLimit"))
        // A new budget, then no limit at all.
        device.writebackLimit = 2
        #expect(try device.writeback(.idle) == 2)
        device.writebackLimitEnabled = false
        #expect(try device.writeback(.idle) == 5)
        #expect(device.writebackLimit == 0, "a disabled limit is not charged")
        device.reset()
        #expect(!device.writebackLimitEnabled)
        #expect(device.bdStat == ZramBDStat(count: 0, reads: 0, writes: 0))
        device.checkInvariants()
    }

    @Test func writebackWithoutABackingFileOrWithAFullFileThrows() throws {
        let plain = try makePrefixDevice(slots: 4)
        #expect(throws: ZramError.noBackingDevice) { try plain.writeback(.idle) }
        #expect(!plain.hasBackingDevice)
        let (device, file) = try makeWritebackDevice(slots: 8, blocks: 2)
        defer { file.close() }
        #expect(throws: ZramError.page(.slotOutOfRange(slot: 8, slotCount: 8))) { try device.writeback(.slot(8)) }
        let page = PageBuffer()
        for slot in 0..<4 {
            writebackTestPage(page, slot: slot, kind: "c")
            try device.writePage(page.raw, at: slot)
        }
        device.markIdle()
        #expect(try device.writeback(.idle) == 2, "the file has two blocks")
        #expect(throws: ZramError.backingFileFull(blocks: 2)) { try device.writeback(.idle) }
        for slot in 0..<4 { expectReadsBack(device, slot) { writebackTestPage($0, slot: slot, kind: "c") } }
        device.checkInvariants()
    }

    @Test func configurationsThatCannotWorkAreRejected() throws {
        let file = try BackingFile.temporary(pageSize: 8192, blockCount: 4)
        defer { file.close() }
        var configuration = ZramConfiguration(disksize: 1 << 20)
        configuration.automaticWriteback = ZramAutomaticWriteback(highWatermark: 1 << 20, lowWatermark: 1 << 19)
        #expect(configuration.problem?.contains("backing device") == true)
        configuration.backingDevice = ZramBackingDevice(file: file, blockCount: 4)
        #expect(configuration.problem?.contains("8192-byte blocks") == true)
        configuration.pageSize = 8192
        #expect(configuration.problem == nil)
        configuration.automaticWriteback = ZramAutomaticWriteback(highWatermark: 1 << 19, lowWatermark: 1 << 20)
        #expect(throws: ZramError.invalidConfiguration(configuration.problem ?? "")) { _ = try ZramDevice(configuration) }
        configuration.automaticWriteback = nil
        configuration.backingDevice?.blockCount = 0
        #expect(configuration.problem?.contains("block count") == true)
    }

    @Test func freedWrittenBackBlocksArePunchedAndReused() throws {
        let (device, file) = try makeWritebackDevice(slots: 16, blocks: 16, checksums: true)
        defer { file.close() }
        let page = PageBuffer()
        for slot in 0..<8 {
            writebackTestPage(page, slot: slot, kind: "h")
            try device.writePage(page.raw, at: slot)
        }
        #expect(try device.writeback(.huge) == 8)
        let full = try file.allocatedBytes()
        #expect(full >= 8 * 4096)
        #expect(Set(try (0..<8).map { try device.writtenBackBlock(of: $0) }) == Set((0..<8).map { Optional($0) }))

        // Every way of freeing: discard, notify, overwrite (same-filled and compressed), reset.
        device.discard(0)
        device.slotFreeNotify(1)
        writebackTestPage(page, slot: 2, kind: "s")
        try device.writePage(page.raw, at: 2)
        writebackTestPage(page, slot: 3, kind: "c", version: 1)
        try device.writePage(page.raw, at: 3)
        try device.discard(bytesAt: 4 * 4096, length: 4096)
        #expect(device.bdStat.count == 3)
        #expect(try device.writtenBackBlock(of: 3) == nil)
        device.checkInvariants()
        #expect(try file.allocatedBytes() <= full - 5 * 4096, "five freed blocks were punched")
        #expect(file.ioCounters.punches == 5)
        expectReadsBack(device, 2) { writebackTestPage($0, slot: 2, kind: "s") }
        expectReadsBack(device, 3) { writebackTestPage($0, slot: 3, kind: "c", version: 1) }
        for slot in 5..<8 { expectReadsBack(device, slot) { writebackTestPage($0, slot: slot, kind: "h") } }

        // New writebacks take the freed blocks first (lowest free block).
        for slot in 8..<13 {
            writebackTestPage(page, slot: slot, kind: "h")
            try device.writePage(page.raw, at: slot)
        }
        #expect(try device.writeback(.huge) == 5)
        let reused = Set(try (8..<13).compactMap { try device.writtenBackBlock(of: $0) })
        #expect(reused == Set(0..<5))
        for slot in 5..<13 { expectReadsBack(device, slot) { writebackTestPage($0, slot: slot, kind: "h") } }
        device.checkInvariants()

        device.reset()
        #expect(device.bdStat.count == 0)
        #expect(try file.allocatedBytes() < 4096 * 2)
        device.checkInvariants()
    }

    /// FuzzZram found it (failed punches 3, the model 0, after a reset): since writeback went
    /// through a PageFileTier, failedPunches was the tier's lifetime count, so a reset, which
    /// zeroes every counter, left it standing. It restarts at reset now (punches that fail
    /// during the reset's own frees included).
    @Test func aResetRestartsTheFailedPunchCount() throws {
        let (device, file, faulty) = try makeFaultyDevice(slots: 4, storing: 4)
        defer { file.close() }
        device.markIdle()
        #expect(try device.writeback(.idle) == 4)
        faulty.inject(.error(errno: EIO), on: .punch, when: .always, times: 3)
        device.discard(0)
        device.discard(1)
        #expect(device.writebackStatistics.failedPunches == 2)
        device.reset()  // frees slots 2 and 3: one more failed punch, then the counters restart
        #expect(faulty.injectedFaults(.punch) == 3)
        #expect(device.writebackStatistics.failedPunches == 0)
        let page = PageBuffer()
        writebackTestPage(page, slot: 0, kind: "c")
        try device.writePage(page.raw, at: 0)
        #expect(try device.writeback(.slot(0)) == 1)
        faulty.inject(.error(errno: EIO), on: .punch, when: .always, times: 1)
        device.discard(0)
        #expect(device.writebackStatistics.failedPunches == 1, "counted from the reset on")
        device.checkInvariants()
    }

    @Test func aFailedFileReadFreesNothingAndARetryReturnsThePage() throws {
        let (device, file, faulty) = try makeFaultyDevice(slots: 8, storing: 4)
        defer { file.close() }
        device.markIdle()
        #expect(try device.writeback(.idle) == 4)
        let block = try #require(try device.writtenBackBlock(of: 2))
        faulty.inject(.error(errno: EIO), on: .read, when: .block(block), times: 1)
        faulty.inject(.short, on: .read, when: .block(block), times: 1)

        let buffer = PageBuffer()
        for attempt in 1...2 {
            do {
                try device.readPage(at: 2, into: buffer.bytes)
                Issue.record("attempt \(attempt) should have failed")
            } catch {
                guard case .io = error else { Issue.record("expected an I/O error, got \(error)"); continue }
            }
            #expect(device.ioStat.failedReads == attempt)
        }
        #expect(try device.slotFlags(2).contains(.writtenBack), "nothing was freed")
        #expect(try device.writtenBackBlock(of: 2) == block)
        #expect(device.bdStat.count == 4)
        // The fault has cleared: the page comes back whole, never zeros.
        expectReadsBack(device, 2) { writebackTestPage($0, slot: 2, kind: "c") }
        #expect(device.bdStat.reads == 3, "bd_reads counts every read issued")
        device.checkInvariants()
    }

    @Test func aFailedBlockWriteKeepsThePageInMemory() throws {
        let (device, file, faulty) = try makeFaultyDevice(slots: 8, storing: 4)
        defer { file.close() }
        device.markIdle()
        faulty.inject(.error(errno: ENOSPC), on: .write, when: .call(2), times: 1)
        #expect(throws: ZramError.writebackFailed(written: 3, failures: 1, last: .io(errno: ENOSPC, operation: "write of block 1 (injected fault)"))) {
            try device.writeback(.idle)
        }
        #expect(try !device.slotFlags(1).contains(.writtenBack), "slot 1's write failed: it stays in the pool")
        #expect(device.ioStat.failedWrites == 1)
        #expect(device.writebackStatistics.failedWrites == 1)
        #expect(device.bdStat == ZramBDStat(count: 3, reads: 0, writes: 3))
        device.checkInvariants()  // the failed block went back to the allocator
        for slot in 0..<4 { expectReadsBack(device, slot) { writebackTestPage($0, slot: slot, kind: "c") } }
        #expect(try device.writeback(.slot(1)) == 1)
        expectReadsBack(device, 1) { writebackTestPage($0, slot: 1, kind: "c") }
        device.checkInvariants()
    }

    /// FuzzZram's crash-ecc4bc05...: in one batch a write fails (its block goes back and the
    /// next page takes it), then the file runs out of blocks. Only the write that was made and
    /// failed is a failed write; the page the file had no room for was never written (the
    /// device used to count it in failed_writes and `failures` too), and the run stops there.
    @Test func aPageTheFileHasNoRoomForAfterAFailedWriteIsNotAFailedWrite() throws {
        var faulty: FaultInjectingBackingFile? = nil
        let (device, file) = try makeWritebackDevice(slots: 4, blocks: 1) { base in
            let wrapper = FaultInjectingBackingFile(wrapping: base)
            faulty = wrapper
            return wrapper
        }
        defer { file.close() }
        let page = PageBuffer()
        for slot in 0..<4 {
            writebackTestPage(page, slot: slot, kind: "c")
            try device.writePage(page.raw, at: slot)
        }
        device.markIdle()
        try #require(faulty).inject(.error(errno: EIO), on: .write, when: .block(0), times: 1)
        #expect(throws: ZramError.writebackFailed(written: 1, failures: 1, last: .io(errno: EIO, operation: "write of block 0 (injected fault)"))) {
            try device.writeback(.idle)
        }
        #expect(device.ioStat.failedWrites == 1, "one write was made and failed")
        #expect(device.writebackStatistics.failedWrites == 1)
        #expect(device.writebackStatistics.refusedPages == 3, "slot 0 (failed write), slots 2 and 3 (no room)")
        #expect(try device.writtenBackBlock(of: 1) == 0, "the failed write's block went to the next page")
        #expect(device.bdStat == ZramBDStat(count: 1, reads: 0, writes: 1))
        #expect(device.tierStatistics?.refusedWrites == 3)
        for slot in [0, 2, 3] { #expect(try !device.slotFlags(slot).contains(.writtenBack)) }
        for slot in 0..<4 { expectReadsBack(device, slot) { writebackTestPage($0, slot: slot, kind: "c") } }
        // Still full: nothing more can go, and that is a full file, not a failure.
        device.markIdle()
        #expect(throws: ZramError.backingFileFull(blocks: 1)) { try device.writeback(.idle) }
        #expect(device.ioStat.failedWrites == 1)
        device.checkInvariants()
    }

    @Test func aCorruptBlockIsReportedNotHandedOut() throws {
        let (device, file) = try makeWritebackDevice(slots: 4, blocks: 4, checksums: true)
        defer { file.close() }
        let page = PageBuffer()
        writebackTestPage(page, slot: 1, kind: "h")
        try device.writePage(page.raw, at: 1)
        #expect(try device.writeback(.slot(1)) == 1)
        let block = try #require(try device.writtenBackBlock(of: 1))
        let good = PageBuffer()
        try file.readBlock(block, into: good.bytes)
        let bad = PageBuffer()
        bad.bytes.copyMemory(from: good.raw)
        bad.bytes[100] ^= 0x01
        try file.writeBlock(bad.raw, at: block)

        let buffer = PageBuffer()
        do {
            try device.readPage(at: 1, into: buffer.bytes)
            Issue.record("a corrupt block was handed out")
        } catch {
            guard case .corrupt(let slot, _) = error else { Issue.record("expected corrupt, got \(error)"); return }
            #expect(slot == 1)
        }
        #expect(device.ioStat.failedReads == 1)
        #expect(try device.slotFlags(1).contains(.writtenBack))
        try file.writeBlock(good.raw, at: block)
        expectReadsBack(device, 1) { writebackTestPage($0, slot: 1, kind: "h") }
    }

    @Test func aReadDuringWritebackKeepsThePageInMemory() throws {
        // The block write is slow; a reader touches the slot meanwhile: the writeback is
        // cancelled (the slot lost its PP_SLOT mark), the block freed, the page kept.
        let (device, file, faulty) = try makeFaultyDevice(slots: 4, storing: 1)
        defer { file.close() }
        faulty.inject(.delay(microseconds: 200_000), on: .write, when: .always, times: 1)
        let started = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let result = Mutex<Int>(-1)
        Thread {
            started.signal()
            let n = (try? device.writeback(.slot(0))) ?? -2
            result.withLock { $0 = n }
            finished.signal()
        }.start()
        started.wait()
        usleep(50_000)
        expectReadsBack(device, 0) { writebackTestPage($0, slot: 0, kind: "c") }
        finished.wait()
        #expect(result.withLock { $0 } == 0)
        #expect(device.writebackStatistics.cancelled == 1)
        #expect(device.bdStat == ZramBDStat(count: 0, reads: 0, writes: 1))
        #expect(try !device.slotFlags(0).contains(.writtenBack))
        device.checkInvariants()
        expectReadsBack(device, 0) { writebackTestPage($0, slot: 0, kind: "c") }
    }

    // MARK: Automatic writeback

    @Test func automaticWritebackKeepsThePoolUnderTheHighWatermark() throws {
        let slots = 4096
        let high = 384 << 10, low = 256 << 10
        let (device, file) = try makeWritebackDevice(
            slots: slots, blocks: slots, checksums: true,
            automatic: ZramAutomaticWriteback(highWatermark: high, lowWatermark: low, batchSize: 512))
        defer { file.close() }
        let page = PageBuffer()
        var highest = 0
        for slot in 0..<slots {
            page.fillPrefix(slot % 9 == 0 ? 4000 : 200 + (slot * 7919) % 1800, seed: UInt64(slot))
            try device.writePage(page.raw, at: slot)
            highest = max(highest, device.mmStat.memUsedTotal)
        }
        #expect(highest < high, "mem_used_total reached \(highest), the high watermark is \(high)")
        let stats = device.writebackStatistics
        #expect(stats.automaticRounds > 0)
        #expect(stats.automaticIdleMarkings > 0)
        #expect(device.bdStat.count > slots / 2)
        #expect(device.ioStat.failedWrites == 0)
        device.checkInvariants()
        for slot in 0..<slots {
            expectReadsBack(device, slot) { $0.fillPrefix(slot % 9 == 0 ? 4000 : 200 + (slot * 7919) % 1800, seed: UInt64(slot)) }
        }
        print(
            "automatic writeback: \(stats.automaticRounds) rounds, \(stats.automaticPages) pages, "
                + "\(stats.automaticNanoseconds / max(1, stats.automaticPages)) ns/page, \(stats.automaticIdleMarkings) markings, "
                + "\(stats.automaticCompactions) compactions; mm_stat \(device.mmStat.line)bd_stat \(device.bdStat.line)", terminator: "")
    }

    @Test func automaticWritebackTakesIdleSlotsBeforeRecentlyUsedOnes() throws {
        let (device, file) = try makeWritebackDevice(
            slots: 1024, blocks: 1024,
            automatic: ZramAutomaticWriteback(highWatermark: 1 << 30, lowWatermark: 1 << 29))
        defer { file.close() }
        let page = PageBuffer()
        for slot in 0..<512 {
            page.fillPrefix(1000, seed: UInt64(slot))
            try device.writePage(page.raw, at: slot)
        }
        device.markIdle(.all)  // generation 1
        let hot = Array(stride(from: 0, to: 512, by: 8))
        for slot in hot { try device.readPage(at: slot, into: page.bytes) }
        // A tight pool now: one round writes idle pages until below the low watermark.
        let tier = try #require(device.writebackTier)
        let tight = ZramAutomaticWriteback(highWatermark: device.mmStat.memUsedTotal / 2, lowWatermark: device.mmStat.memUsedTotal / 2, batchSize: 10_000)
        let written = device.runAutomaticWriteback(tier: tier, automatic: tight, wait: true)
        #expect(written > 0)
        #expect(device.mmStat.memUsedTotal < tight.lowWatermark)
        for slot in hot { #expect(try !device.slotFlags(slot).contains(.writtenBack), "hot slot \(slot) was written back") }
        #expect(device.writebackStatistics.automaticIdleMarkings == 0, "idle slots were there: no new marking")
        for slot in 0..<512 { expectReadsBack(device, slot) { $0.fillPrefix(1000, seed: UInt64(slot)) } }
        device.checkInvariants()
    }

    @Test func automaticWritebackStopsAndCountsWhenTheFileIsFull() throws {
        let (device, file) = try makeWritebackDevice(
            slots: 1024, blocks: 64,
            automatic: ZramAutomaticWriteback(highWatermark: 64 << 10, lowWatermark: 32 << 10, batchSize: 32))
        defer { file.close() }
        let page = PageBuffer()
        for slot in 0..<1024 {
            page.fillPrefix(1200, seed: UInt64(slot))
            try device.writePage(page.raw, at: slot)
        }
        #expect(device.bdStat.count == 64, "every block is used")
        #expect(device.writebackStatistics.automaticFileFull > 0)
        #expect(device.mmStat.memUsedTotal > 64 << 10, "the pool grows once the file is full")
        #expect(device.ioStat.failedWrites == 0)
        for slot in 0..<1024 { expectReadsBack(device, slot) { $0.fillPrefix(1200, seed: UInt64(slot)) } }
        device.checkInvariants()
    }

    @Test func aWriteRefusedByMemLimitWaitsForWritebackAndSucceeds() throws {
        let (device, file) = try makeWritebackDevice(
            slots: 2048, blocks: 2048, memLimit: 128 << 10,
            automatic: ZramAutomaticWriteback(highWatermark: 1 << 30, lowWatermark: 64 << 10, batchSize: 1024))
        defer { file.close() }
        let page = PageBuffer()
        for slot in 0..<2048 {
            page.fillPrefix(1500, seed: UInt64(slot))
            try device.writePage(page.raw, at: slot)
        }
        #expect(device.ioStat.failedWrites == 0)
        #expect(device.mmStat.memUsedMax <= 128 << 10)
        #expect(device.writebackStatistics.automaticRounds > 0)
        for slot in 0..<2048 { expectReadsBack(device, slot) { $0.fillPrefix(1500, seed: UInt64(slot)) } }
        device.checkInvariants()
    }

    // MARK: Concurrency

    @Test func concurrentWritesReadsAndDiscardsDuringWritebackKeepEveryPage() throws {
        let workers = 3
        let operationsPerWorker = 20_000
        let slots = 1536
        let (device, file) = try makeWritebackDevice(
            slots: slots, blocks: slots, checksums: true,
            automatic: ZramAutomaticWriteback(highWatermark: 512 << 10, lowWatermark: 384 << 10, batchSize: 64))
        defer { file.close() }
        let failures = Mutex<[String]>([])
        let running = Atomic<Int>(workers)
        let done = DispatchSemaphore(value: 0)
        for worker in 0..<workers {
            Thread {
                defer { running.subtract(1, ordering: .releasing); done.signal() }
                let page = PageBuffer(), scratch = PageBuffer()
                var model = [Int](repeating: -1, count: slots / workers)  // -1 empty, else generation
                var rng = SplitMix(seed: UInt64(worker + 7))
                func fail(_ message: String) { failures.withLock { $0.append("worker \(worker): \(message)") } }
                for _ in 0..<operationsPerWorker {
                    let local = Int(rng.next() % UInt64(slots / workers))
                    let slot = local * workers + worker
                    let dice = rng.next() % 100
                    if dice < 40 {
                        let generation = max(model[local], 0) + 1
                        StressPage.fill(page.bytes, slot: slot, generation: generation)
                        do { try device.writePage(page.raw, at: slot) } catch { fail("write \(slot): \(error)"); return }
                        model[local] = generation
                    } else if dice < 92 {
                        switch Result(catching: { () throws(PageStoreError) in try device.readPage(at: slot, into: page.bytes) }) {
                        case .success:
                            let got = StressPage.generation(of: page.raw, slot: slot, scratch: scratch.bytes)
                            if got != model[local] { fail("slot \(slot): expected \(model[local]), read \(String(describing: got))") }
                        case .failure(.emptySlot):
                            if model[local] >= 0 { fail("slot \(slot) lost generation \(model[local])") }
                        case .failure(let error): fail("read \(slot): \(error)")
                        }
                    } else {
                        device.discard(slot)
                        model[local] = -1
                    }
                }
            }.start()
        }
        // Explicit writeback and idle marking alongside the automatic rounds.
        Thread {
            var rounds = 0
            while running.load(ordering: .acquiring) > 0 {
                device.markIdle(.all)
                do throws(ZramError) { try device.writeback(.idle, maxPages: 200) } catch {
                    if case .backingFileFull = error {} else { failures.withLock { $0.append("writeback: \(error)") } }
                }
                _ = try? device.writeback(.huge, maxPages: 50)
                rounds += 1
                usleep(1000)
            }
            #expect(rounds > 0)
            done.signal()
        }.start()
        for _ in 0..<(workers + 1) { done.wait() }
        let found = failures.withLock { $0 }
        #expect(found.isEmpty, "\(found.prefix(10))")
        device.checkInvariants()
        #expect(device.bdStat.reads > 0, "some reads came from the file")
        #expect(device.bdStat.writes > 0)
        print("writeback stress: bd_stat \(device.bdStat.line)io_stat \(device.ioStat.line)cancelled \(device.writebackStatistics.cancelled), automatic rounds \(device.writebackStatistics.automaticRounds), busy \(device.writebackStatistics.automaticBusy)", terminator: "\n")
        let page = PageBuffer(), scratch = PageBuffer()
        for slot in 0..<slots {
            switch Result(catching: { () throws(PageStoreError) in try device.readPage(at: slot, into: page.bytes) }) {
            case .success: #expect(StressPage.generation(of: page.raw, slot: slot, scratch: scratch.bytes) != nil)
            case .failure(.emptySlot): break
            case .failure(let error): Issue.record("final read of \(slot): \(error)")
            }
        }
    }
}
