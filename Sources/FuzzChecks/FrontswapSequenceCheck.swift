#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import PageCodecs
import PageStore
import ZSwap
import ZsPool

/// `FuzzFrontswap`: operation sequences on a `FrontswapCache` whose backing file is a
/// `FaultInjectingBackingFile` over a ``MemoryPageFile``.
///
/// Input: the cache's settings (page size, 1...16 slots, a pool limit of 1...8 pages, accept
/// threshold, writeback batch and policy, whether the storing thread shrinks, whether
/// incompressible pages stay in the pool, checksums, hole punching, LZ4 or zstd), then
/// operations until the input ends (at most ``maximumOperations``): store a page
/// (``PageBuilder``; sometimes out of range or the wrong size), load, exclusive load
/// (notify), invalidate (discard), shrink, write back a count, compact, load every slot,
/// inject a fault into the file (EIO, ENOSPC, short reads and torn writes, corrupt reads, failed
/// punches; on one block or on every call, once, a few times or always), clear the faults.
///
/// The model knows each slot's page and where the cache put it (read from `location(of:)` and
/// checked against the moves the operation allows: its own slot anywhere, any other slot only
/// from the pool to the file by writeback). What must hold:
/// - A load from the pool returns exactly the stored page. A load from the file returns the
///   stored page, or fails with a typed error only when a fault hit that read or the block no
///   longer holds the page (a store's torn write over the old copy, which the cache documents),
///   and then frees nothing. With checksums a load never returns a wrong page; without, a
///   corrupt read returns what the disk gave.
/// - A store either stores the page or throws `.io` because a write fault hit it, and then
///   the slot keeps its old page and place.
/// - Every page in the file is in its block (checked underneath the fault injection); a block
///   changes only when its slot is stored, written back or freed.
/// - zswap's counters agree with the model and the file's injected faults (failed reads and
///   writes, notify_free, miss_free, invalidates, exclusive loads, loads, file loads, written
///   back pages, failed punches, stored pages, pages in the file), `mem_used_total` stays
///   within the pool limit, and the cache's `checkInvariants()` passes.
///
/// Not covered: concurrency (`FrontswapCacheConcurrencyTests`), the LRU's exact order (its
/// membership is checked by `checkInvariants()`).
public final class FrontswapSequenceCheck: FuzzCheck {
    public static let name = "FuzzFrontswap"
    public static let maximumInputLength = 16_384
    /// The most operations one input runs.
    public static let maximumOperations = 96

    public init() {}

    public func check(_ input: UnsafeRawBufferPointer) throws(FuzzFailure) {
        var reader = FuzzInput(input)
        let run = try FrontswapRun(check: self, settings: &reader)
        var step = 0
        while !reader.isExhausted && step < Self.maximumOperations {
            run.step = step
            let before = run.observe()
            try run.perform(&reader)
            try run.verify(since: before)
            step += 1
        }
    }

    /// One input's cache, file and model.
    final class FrontswapRun {
        let check: FrontswapSequenceCheck
        let cache: FrontswapCache
        let file: FaultInjectingBackingFile
        let disk: MemoryPageFile
        let pageSize: Int
        let slotCount: Int
        let checksums: Bool
        /// The page each slot holds (valid where `present`).
        let expected: ExactBuffer
        var present: [Bool]
        /// Where each slot was after the last operation.
        var locations: [SlotLocation]
        var faults = FaultMirror()
        let page: ExactBuffer
        let readBuffer: ExactBuffer
        let blockBuffer: ExactBuffer
        var step = 0
        /// The slot the current operation stores to or frees, if any; other slots may only move
        /// from the pool to the file.
        var touched: Int? = nil
        /// The slot the current operation stored a page to, if the store succeeded.
        var storedSlot: Int? = nil

        var failedReads = 0, notifyFree = 0, invalidates = 0, exclusiveLoads = 0, loads = 0, fileLoads = 0
        var writtenBack = 0, pagesCompacted = 0

        init(check: FrontswapSequenceCheck, settings input: inout FuzzInput) throws(FuzzFailure) {
            self.check = check
            pageSize = input.byte() & 7 == 7 ? 16_384 : 4096
            slotCount = Int(input.byte()) % 16 + 1
            let limit = max(pageSize, (Int(input.byte()) % 8 + 1) * 4096)
            let policy = input.byte()
            let options = input.byte()
            var configuration = FrontswapConfiguration(slotCount: slotCount, pageSize: pageSize, poolLimit: .bytes(limit))
            configuration.acceptThresholdPercent = [90, 50, 100, 0, 75, 90, 90, 95][Int(policy & 7)]
            configuration.writebackBatch = Int(policy >> 3) % 4 + 1
            configuration.limitPolicy = policy & 0x20 != 0 ? .rejectNewest : .writeBackOldest
            configuration.shrinkOnLimit = policy & 0x40 == 0
            configuration.storeIncompressible = policy & 0x80 == 0
            checksums = options & 1 != 0
            configuration.checksums = checksums
            configuration.punchFreedBlocks = options & 2 == 0
            configuration.codec = options & 0x1C == 0x1C ? PageCodecFactory(.zstd(level: 1)) : .lz4
            disk = MemoryPageFile(pageSize: pageSize, blockCount: slotCount)
            file = FaultInjectingBackingFile(wrapping: disk)
            do throws(ZSwapError) { cache = try FrontswapCache(configuration, file: file, memTotal: 1 << 30) } catch {
                throw check.failure("could not make a cache of \(slotCount) slots with a \(limit)-byte pool: \(error)")
            }
            expected = ExactBuffer(count: slotCount * pageSize)
            present = Array(repeating: false, count: slotCount)
            locations = Array(repeating: .empty, count: slotCount)
            page = ExactBuffer(count: pageSize)
            readBuffer = ExactBuffer(count: pageSize)
            blockBuffer = ExactBuffer(count: pageSize)
        }

        func fail(_ message: String) -> FuzzFailure { check.failure(step: step, message) }

        func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws(FuzzFailure) {
            if !condition { throw fail(message()) }
        }

        func expectedPage(_ slot: Int) -> UnsafeMutableRawBufferPointer {
            UnsafeMutableRawBufferPointer(rebasing: expected.bytes[(slot * pageSize)..<((slot + 1) * pageSize)])
        }

        /// Whether `slot`'s file block holds its expected page (read underneath the faults).
        func blockIsIntact(_ slot: Int) -> Bool {
            disk.peekBlock(slot, into: blockBuffer.bytes)
            return memcmp(blockBuffer.bytes.baseAddress!, expectedPage(slot).baseAddress!, pageSize) == 0
        }

        /// A slot from the input: in range, or now and then one past either end.
        func slot(_ input: inout FuzzInput) -> Int {
            let b = Int(input.byte())
            if b >= 250 { return b == 250 ? -1 : slotCount + (b - 251) }
            return b % slotCount
        }

        /// The counters an operation is checked against afterwards.
        struct Observation {
            var statistics: FrontswapStatistics
            var injectedWrites: Int
        }

        func observe() -> Observation {
            touched = nil
            storedSlot = nil
            return Observation(statistics: cache.frontswapStatistics, injectedWrites: file.injectedFaults(.write))
        }

        // MARK: Operations

        func perform(_ input: inout FuzzInput) throws(FuzzFailure) {
            let op = input.byte()
            switch op % 16 {
            case 0, 1, 2, 3: try store(&input, variant: op >> 5)
            case 4, 5, 6: try load(slot(&input))
            case 7: free(slot(&input), notify: true)
            case 8: free(slot(&input), notify: false)
            case 9:
                let written = cache.shrink(maxPages: Int(input.byte() % 8))
                try expect(written >= 0, "shrink returned \(written)")
                writtenBack += written
            case 10:
                let written = cache.writeBack(count: Int(input.byte() % 8))
                try expect(written >= 0, "writeBack returned \(written)")
                writtenBack += written
            case 11:
                let before = cache.mmStat.memUsedTotal
                let pages = cache.compact()
                pagesCompacted += pages
                try expect(pages >= 0 && cache.mmStat.memUsedTotal <= before, "compact() returned \(pages), mem_used_total \(before) -> \(cache.mmStat.memUsedTotal)")
            case 12, 13: fault(&input)
            case 14: faults.clear(file)
            default:
                for slot in 0..<slotCount { try load(slot) }
            }
        }

        func store(_ input: inout FuzzInput, variant: UInt8) throws(FuzzFailure) {
            let slot = slot(&input)
            let inRange = (0..<slotCount).contains(slot)
            if variant == 7 {
                let wrong = ExactBuffer(count: pageSize + (input.bool() ? 1 : -1))
                switch result(of: { () throws(PageStoreError) in try cache.writePage(wrong.readOnly, at: slot) }) {
                case .failure(.slotOutOfRange(slot, slotCount)) where !inRange: return
                case .failure(.wrongPageSize(pageSize, wrong.count)) where inRange: return
                case let other: throw fail("writePage of a \(wrong.count)-byte buffer at slot \(slot) gave \(other)")
                }
            }
            PageBuilder.build(page.bytes, from: &input)
            let injectedBefore = file.injectedFaults(.write)
            let outcome = result(of: { () throws(PageStoreError) in try cache.writePage(page.readOnly, at: slot) })
            guard inRange else {
                guard case .failure(.slotOutOfRange(slot, slotCount)) = outcome else { throw fail("writePage at slot \(slot) of \(slotCount) gave \(outcome)") }
                return
            }
            touched = slot
            switch outcome {
            case .success:
                expectedPage(slot).copyMemory(from: page.readOnly)
                present[slot] = true
                storedSlot = slot
                try expect(cache.location(of: slot) != .empty, "slot \(slot) is empty after a store")
            case .failure(.io):
                // Only a fault makes a write fail; the slot keeps its old page where it was.
                try expect(file.injectedFaults(.write) > injectedBefore, "writePage at slot \(slot) failed without a write fault: \(outcome)")
                try expect(cache.location(of: slot) == locations[slot], "a failed store moved slot \(slot) from \(locations[slot]) to \(cache.location(of: slot))")
            case .failure(let error):
                throw fail("writePage at slot \(slot) failed: \(error)")
            }
        }

        func load(_ slot: Int) throws(FuzzFailure) {
            readBuffer.bytes.initializeMemory(as: UInt8.self, repeating: 0xEE)
            let location = cache.location(of: slot)
            // Reads of the file go through the faults: the mirror says which one this read gets.
            let fault = location == .file ? faults.next(.read, block: slot) : nil
            let intact = location == .file ? blockIsIntact(slot) : true
            let outcome = result(of: { () throws(PageStoreError) in try cache.readPage(at: slot, into: readBuffer.bytes) })
            guard (0..<slotCount).contains(slot) else {
                guard case .failure(.slotOutOfRange(slot, slotCount)) = outcome else { throw fail("readPage at slot \(slot) gave \(outcome)") }
                return
            }
            func what() -> String { "readPage of slot \(slot) (\(location), fault \(String(describing: fault)), block intact \(intact), checksums \(checksums))" }
            guard present[slot] else {
                guard case .failure(.emptySlot(slot)) = outcome else { throw fail("\(what()) of an empty slot gave \(outcome)") }
                return
            }
            let matches = memcmp(readBuffer.bytes.baseAddress!, expectedPage(slot).baseAddress!, pageSize) == 0
            switch (location, outcome) {
            case (.pool, .success):
                try expect(matches, "\(what()) returned a different page")
                loads += 1
            case (.file, .success):
                if checksums || (intact && fault != .corrupt) {
                    try expect(matches, "\(what()) returned a different page")
                } else {
                    // No checksums: the page is what the disk gave.
                    if fault == .corrupt { blockBuffer.bytes[pageSize / 2] ^= 0x5A }
                    try expect(memcmp(readBuffer.bytes.baseAddress!, blockBuffer.bytes.baseAddress!, pageSize) == 0, "\(what()) returned neither the page nor the block")
                }
                try expect(fault == nil || fault == .corrupt, "\(what()) succeeded through an I/O fault")
                try expect(checksums ? intact && fault == nil : true, "\(what()) succeeded over a bad block with checksums")
                fileLoads += 1
            case (.file, .failure(.io(let code, _))):
                switch fault {
                case .error(let e)?: try expect(code == e, "\(what()) failed with errno \(code)")
                case .short?: try expect(code == EIO, "\(what()) failed with errno \(code)")
                default: throw fail("\(what()) failed with I/O error \(code) but no I/O fault hit it")
                }
                failedReads += 1
            case (.file, .failure(.corrupt(slot, _))):
                try expect(checksums && fault.map { $0 == .corrupt } ?? !intact, "\(what()) reported a corrupt block")
                failedReads += 1
            default:
                throw fail("\(what()) gave \(outcome)")
            }
            try expect(cache.location(of: slot) == location, "\(what()) moved the slot to \(cache.location(of: slot))")
        }

        func free(_ slot: Int, notify: Bool) {
            let location = cache.location(of: slot)
            if notify { cache.slotFreeNotify(slot) } else { cache.discard(slot) }
            guard (0..<slotCount).contains(slot) else { return }
            touched = slot
            if notify {
                notifyFree += 1
                if location == .pool { exclusiveLoads += 1 }
            } else if location != .empty {
                invalidates += 1
            }
            present[slot] = false
        }

        func fault(_ input: inout FuzzInput) {
            let kind = input.byte()
            let target = input.byte()
            let block: Int? = target & 0x80 != 0 ? nil : Int(target) % slotCount
            let times: Int? = kind & 0x60 == 0x60 ? nil : Int(kind >> 5) + 1
            switch kind & 7 {
            case 0: faults.inject(.error(errno: EIO), on: .read, block: block, times: times, into: file)
            case 1: faults.inject(.short, on: .read, block: block, times: times, into: file)
            case 2: faults.inject(.corrupt, on: .read, block: block, times: times, into: file)
            case 3: faults.inject(.error(errno: EIO), on: .write, block: block, times: times, into: file)
            case 4: faults.inject(.error(errno: ENOSPC), on: .write, block: block, times: times, into: file)
            case 5: faults.inject(.short, on: .write, block: block, times: times, into: file)
            default: faults.inject(.error(errno: EIO), on: .punch, block: block, times: times, into: file)
            }
        }

        // MARK: Verification

        func verify(since before: Observation) throws(FuzzFailure) {
            #if DEBUG
            cache.checkInvariants()
            #endif
            var inPool = 0, inFile = 0, movedToFile = 0
            // A store that finds the pool full may write back its own slot's old page first.
            let ownWriteback = touched.map { locations[$0] == .pool } ?? false ? 1 : 0
            for slot in 0..<slotCount {
                let now = cache.location(of: slot)
                let was = locations[slot]
                func moved() -> String { "slot \(slot) went from \(was) to \(now)" }
                try expect((now == .empty) == !present[slot], moved() + (present[slot] ? " but holds a page" : " but was freed"))
                if slot != touched && now != was {
                    // Only writeback moves a slot the operation did not name.
                    try expect(was == .pool && now == .file, moved() + " though the operation did not touch it")
                    movedToFile += 1
                }
                if now == .file && (slot == storedSlot || (slot != touched && was != .file)) {
                    // A page just stored or written back is whole in its block.
                    try expect(blockIsIntact(slot), "slot \(slot)'s block does not hold the page just put in the file")
                }
                if now == .pool { inPool += 1 }
                if now == .file { inFile += 1 }
                locations[slot] = now
            }
            let s = cache.frontswapStatistics
            let written = s.writtenBackPages - before.statistics.writtenBackPages
            if touched != nil {
                // A store may write back other slots to make room.
                writtenBack += written
            }
            try expect(
                written >= movedToFile && written <= movedToFile + ownWriteback,
                "\(written) pages written back, \(movedToFile) slots moved to the file")
            try expect(s.writtenBackPages == writtenBack, "written_back_pages \(s.writtenBackPages), the model \(writtenBack)")
            try expect(s.storedPages == inPool && s.pagesInFile == inFile, "stored_pages \(s.storedPages), pages in the file \(s.pagesInFile); slots: \(inPool) in the pool, \(inFile) in the file")
            try expect(s.failedReads == failedReads, "failed_reads \(s.failedReads), the model \(failedReads)")
            try expect(s.failedWrites == file.injectedFaults(.write), "failed_writes \(s.failedWrites), \(file.injectedFaults(.write)) write faults injected")
            try expect(s.failedPunches == file.injectedFaults(.punch), "failed punches \(s.failedPunches), \(file.injectedFaults(.punch)) punch faults injected")
            try expect(file.injectedFaults(.read) == faults.injected(.read), "\(file.injectedFaults(.read)) read faults injected, the model expected \(faults.injected(.read))")
            try expect(s.notifyFree == notifyFree && s.missFree == 0, "notify_free \(s.notifyFree), miss_free \(s.missFree); the model \(notifyFree), 0")
            try expect(s.invalidates == invalidates && s.exclusiveLoads == exclusiveLoads, "invalidates \(s.invalidates), exclusive loads \(s.exclusiveLoads); the model \(invalidates), \(exclusiveLoads)")
            try expect(s.loads == loads && s.fileLoads == fileLoads, "loads \(s.loads), file loads \(s.fileLoads); the model \(loads), \(fileLoads)")
            let rejected = s.rejectReclaimFail - before.statistics.rejectReclaimFail
            try expect(rejected <= file.injectedFaults(.write) - before.injectedWrites, "\(rejected) writebacks failed with fewer write faults")
            let mm = cache.mmStat
            try expect(mm.memUsedTotal <= cache.poolLimitBytes, "mem_used_total \(mm.memUsedTotal) above the pool limit \(cache.poolLimitBytes)")
            try expect(mm.memUsedTotal <= mm.memUsedMax && mm.comprDataSize <= mm.memUsedTotal,
                       "mem_used_total \(mm.memUsedTotal), mem_used_max \(mm.memUsedMax), compr_data_size \(mm.comprDataSize)")
            try expect(mm.pagesCompacted == pagesCompacted, "pages_compacted \(mm.pagesCompacted), compaction returned \(pagesCompacted)")
            if mm.origDataSize == mm.samePages * pageSize {
                try expect(mm.memUsedTotal == 0, "no pool objects but mem_used_total \(mm.memUsedTotal)")
            }
        }
    }

    /// Sequences that fill a small pool past its limit (writeback by the storing thread, by
    /// shrink and by count), load from both tiers, free, and meet faults on reads and writes.
    public static func seeds() -> [[UInt8]] {
        let text = SeedPages.page(kind: 1)
        let noise = SeedPages.page(kind: 6)
        let pointers = SeedPages.page(kind: 3)
        let store: (UInt8, [UInt8]) -> [UInt8] = { slot, page in [0, slot, PageBuilder.rawPage] + page }
        var seeds: [[UInt8]] = []
        // 8 slots, 2-page pool, threshold 90%, batch 1, oldest written back, checksums.
        let settings: [UInt8] = [0, 7, 1, 0x00, 0x01]
        seeds.append(settings + store(0, text) + store(1, pointers) + store(2, noise) + store(3, text) + [15]
            + [12, 0x80, 3] + [4, 3, 4, 0] + [12, 0x02, 0] + [4, 0, 4, 0] + [7, 1, 8, 2] + [9, 4, 10, 2, 11] + [15])
        // No shrink on limit: the pool refuses, pages go to the file; torn writes and failed punches.
        seeds.append([0, 5, 0, 0x40, 0x00] + store(0, noise) + store(1, noise) + store(2, text) + [12, 0x05, 0x80]
            + store(2, pointers) + [4, 2] + [12, 0x06, 0x80] + [8, 2] + [14] + store(3, [0]) + [15])
        // rejectNewest, incompressible pages to the file, no checksums, corrupt reads.
        seeds.append([0, 3, 2, 0xA1, 0x02] + store(0, noise) + store(1, text) + store(2, noise) + store(3, text)
            + [12, 0x22, 0x80] + [15] + [10, 7] + [15])
        // 16 KiB pages, zstd.
        seeds.append([7, 2, 7, 0x00, 0x1D] + store(0, text + text + text + text) + store(1, noise + noise + noise + noise) + [15, 10, 4, 15])
        return seeds
    }
}
