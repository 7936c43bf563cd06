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
/// from the pool to the file by writeback), and for a slot in the file, its block
/// (`fileBlock(of:)`) and the object the block holds. The cache writes back through a
/// `PageFileTier`: a written-back page is its pool object (compressed with the cache's codec,
/// or the raw page when it compressed to `huge_class_size` or more), a page the pool refused is
/// stored raw; each object goes to the lowest free block, zero-padded. The model compresses the
/// expected page with a stream of the same codec (LZ4 and zstd level 1 are deterministic) to
/// know the object. What must hold:
/// - A load from the pool returns exactly the stored page. A load from the file gets the read
///   fault the mirror predicts on the slot's block and returns exactly what follows from it:
///   no fault, or a corrupt read whose flipped byte (the 17th) lies in the block's padding,
///   the stored page; an I/O error or short read, `.io` with that errno; a corrupt read inside
///   the object, with checksums `.corrupt`, without them the raw page with that byte flipped,
///   or for a compressed object what the codec makes of the flipped object (a page, returned
///   as it is, or an error, `.corrupt`). A failed load frees and moves nothing.
/// - A store either stores the page or throws `.io` because a write fault hit it, and then
///   the slot keeps its old page and place (or its old page was written back to the file by
///   the store's own shrink).
/// - Every slot in the file has its own block, and every such block holds the slot's object,
///   zero-padded (checked underneath the fault injection after every operation: a write, torn
///   or not, only ever goes to a free block); a slot's block changes only when the slot is
///   stored or written back, and the blocks an operation takes are the lowest ones free
///   before it.
/// - zswap's counters agree with the model and the file's injected faults (failed reads and
///   writes, notify_free, miss_free, invalidates, exclusive loads, loads, file loads, file
///   stores, written back pages, failed punches, stored pages, pages in the file), the tier's
///   counters agree (objects stored, reads, failed reads), `mem_used_total` stays within the
///   pool limit, and the cache's `checkInvariants()` passes.
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
        /// The blocks the cache's file tier may use.
        let fileBlocks: Int
        let checksums: Bool
        /// The page each slot holds (valid where `present`).
        let expected: ExactBuffer
        var present: [Bool]
        /// Where each slot was after the last operation.
        var locations: [SlotLocation]
        /// The file block of each slot in the file after the last operation.
        var blocks: [Int?]
        /// Whether each slot in the file was stored there raw (a store the pool refused), rather
        /// than written back as its pool object.
        var rawInFile: [Bool]
        /// A stream of the cache's codec: the model's copy of the objects the cache makes.
        let stream: CodecStream
        /// The pool's huge_class_size: a page that compresses to this or more is kept raw.
        let hugeClassSize: Int
        /// Each slot's object as the file must hold it (``expectedObject(_:)``), zero-padded to
        /// a page, and its length; -1 when not made since the slot's page or form changed.
        /// Made once per page, not after every operation: compressing every slot in the file
        /// after each operation was a tenth of the target's time.
        let objects: ExactBuffer
        var objectLengths: [Int]
        /// verify(since:)'s scratch, kept between operations so that it allocates nothing: the
        /// blocks in use before and after the operation, the blocks it took, and which blocks
        /// were among the lowest free ones.
        var usedBefore: [Bool], usedNow: [Bool], lowestFree: [Bool]
        var taken: [Int]
        /// A slot's object (a copy a corrupt read may flip), and the page decoded from a
        /// corrupted one.
        let object: ExactBuffer
        let decoded: ExactBuffer
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
        var writtenBack = 0, pagesCompacted = 0, fileStores = 0
        /// Reads the tier completed (file loads and objects that did not decompress), and reads
        /// it failed (I/O faults, checksum mismatches).
        var tierReads = 0, tierFailedReads = 0

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
            // One block per slot and one per codec stream (a store that replaces a page in a
            // full file); the faults aim at the first `slotCount` blocks or at all.
            fileBlocks = configuration.fileBlockCount
            disk = MemoryPageFile(pageSize: pageSize, blockCount: fileBlocks)
            file = FaultInjectingBackingFile(wrapping: disk)
            do throws(ZSwapError) { cache = try FrontswapCache(configuration, file: file, memTotal: 1 << 30) } catch {
                throw check.failure("could not make a cache of \(slotCount) slots with a \(limit)-byte pool: \(error)")
            }
            expected = ExactBuffer(count: slotCount * pageSize)
            present = Array(repeating: false, count: slotCount)
            locations = Array(repeating: .empty, count: slotCount)
            blocks = Array(repeating: nil, count: slotCount)
            rawInFile = Array(repeating: false, count: slotCount)
            do throws(CodecError) {
                stream = CodecStream(primary: try configuration.codec.makeStream(), secondary: nil, pageSize: pageSize)
            } catch {
                throw check.failure("could not make a \(configuration.codec) stream for the model: \(error)")
            }
            hugeClassSize = SizeClassTable(pageSize: pageSize).hugeClassSize
            objects = ExactBuffer(count: slotCount * pageSize)
            objectLengths = Array(repeating: -1, count: slotCount)
            usedBefore = Array(repeating: false, count: fileBlocks)
            usedNow = usedBefore
            lowestFree = usedBefore
            taken = []
            taken.reserveCapacity(fileBlocks)
            object = ExactBuffer(count: pageSize)
            decoded = ExactBuffer(count: pageSize)
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

        /// `slot`'s object as the file must hold it, zero-padded to a page: the raw page when it
        /// was stored there raw or does not compress below huge_class_size, else its compressed
        /// form. Made when first needed after the slot's page or form changed.
        func madeObject(_ slot: Int) -> (bytes: UnsafeMutableRawBufferPointer, length: Int) {
            let padded = UnsafeMutableRawBufferPointer(rebasing: objects.bytes[(slot * pageSize)..<((slot + 1) * pageSize)])
            if objectLengths[slot] < 0 {
                let page = UnsafeRawBufferPointer(expectedPage(slot))
                let bytes = rawInFile[slot] ? page : stream.compress(page, hugeThreshold: hugeClassSize).bytes
                padded.initializeMemory(as: UInt8.self, repeating: 0)
                padded.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
                objectLengths[slot] = bytes.count
            }
            return (padded, objectLengths[slot])
        }

        /// Forgets `slot`'s made object: its page or the form it is stored in changed.
        func objectChanged(_ slot: Int) { objectLengths[slot] = -1 }

        /// The object `slot`'s page is in the file (``madeObject(_:)``), copied into ``object``.
        /// Returns its length.
        func expectedObject(_ slot: Int) -> Int {
            let made = madeObject(slot)
            object.bytes.copyMemory(from: UnsafeRawBufferPointer(made.bytes))
            return made.length
        }

        /// Whether `block` holds `slot`'s object followed by zeros (read underneath the faults).
        func blockHoldsObject(_ slot: Int, block: Int) -> Bool {
            let made = madeObject(slot)
            disk.peekBlock(block, into: blockBuffer.bytes)
            return memcmp(blockBuffer.bytes.baseAddress!, made.bytes.baseAddress!, pageSize) == 0
        }

        /// The byte a corrupt read flips (`FaultInjectingBackingFile.Fault.corrupt`: the 17th).
        var corruptByte: Int { 16 }

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
                objectChanged(slot)
                present[slot] = true
                storedSlot = slot
                try expect(cache.location(of: slot) != .empty, "slot \(slot) is empty after a store")
            case .failure(.io):
                // Only a fault makes a write fail; the slot keeps its old page where it was.
                try expect(file.injectedFaults(.write) > injectedBefore, "writePage at slot \(slot) failed without a write fault: \(outcome)")
                // Its own shrink may have written its old page back first.
                let now = cache.location(of: slot)
                try expect(now == locations[slot] || (locations[slot] == .pool && now == .file),
                           "a failed store moved slot \(slot) from \(locations[slot]) to \(now)")
            case .failure(let error):
                throw fail("writePage at slot \(slot) failed: \(error)")
            }
        }

        /// What a load of a slot in the file must give.
        enum FileRead: Equatable {
            /// The stored page.
            case page
            /// The page in ``decoded`` (a corrupt object without checksums that still decodes).
            case decoded
            /// `.io` with this errno.
            case io(Int32)
            /// `.corrupt`.
            case corrupt
        }

        /// What reading `slot` (in the file, its object in ``object``, `length` bytes) through
        /// `fault` must give.
        func fileRead(_ slot: Int, length: Int, fault: FaultInjectingBackingFile.Fault?) -> FileRead {
            switch fault {
            case .error(let code)?: return .io(code)
            case .short?: return .io(EIO)
            case .corrupt? where corruptByte < length:
                // The flip is inside the object.
                if checksums { return .corrupt }
                object.bytes[corruptByte] ^= 0x5A
                let flipped = UnsafeRawBufferPointer(rebasing: object.bytes[0..<length])
                do throws(CodecError) {
                    try stream.decode(flipped, isRaw: length == pageSize, priority: 0, into: decoded.bytes)
                } catch {
                    return .corrupt
                }
                return .decoded
            default:
                // No fault, a delay, or a flip in the padding (outside the checksum too).
                return .page
            }
        }

        func load(_ slot: Int) throws(FuzzFailure) {
            readBuffer.bytes.initializeMemory(as: UInt8.self, repeating: 0xEE)
            let location = cache.location(of: slot)
            let block = location == .file ? cache.fileBlock(of: slot) : nil
            try expect(location != .file || block == blocks[slot], "slot \(slot) in the file at block \(String(describing: block)), the model \(String(describing: blocks[slot]))")
            // Reads of the file go through the faults: the mirror says which one this read gets.
            let fault = block.flatMap { faults.next(.read, block: $0) }
            let length = location == .file ? expectedObject(slot) : 0
            let want: FileRead = location == .file ? fileRead(slot, length: length, fault: fault) : .page
            let outcome = result(of: { () throws(PageStoreError) in try cache.readPage(at: slot, into: readBuffer.bytes) })
            guard (0..<slotCount).contains(slot) else {
                guard case .failure(.slotOutOfRange(slot, slotCount)) = outcome else { throw fail("readPage at slot \(slot) gave \(outcome)") }
                return
            }
            func what() -> String {
                "readPage of slot \(slot) (\(location), block \(String(describing: block)), \(length)-byte object, fault \(String(describing: fault)), checksums \(checksums), expected \(want))"
            }
            guard present[slot] else {
                guard case .failure(.emptySlot(slot)) = outcome else { throw fail("\(what()) of an empty slot gave \(outcome)") }
                return
            }
            func returned(_ page: UnsafeMutableRawBufferPointer) -> Bool {
                memcmp(readBuffer.bytes.baseAddress!, page.baseAddress!, pageSize) == 0
            }
            switch (location, outcome) {
            case (.pool, .success):
                try expect(returned(expectedPage(slot)), "\(what()) returned a different page")
                loads += 1
            case (.file, .success):
                switch want {
                case .page: try expect(returned(expectedPage(slot)), "\(what()) returned a different page")
                case .decoded: try expect(returned(decoded.bytes), "\(what()) returned another page than the flipped object decodes to")
                default: throw fail("\(what()) succeeded")
                }
                fileLoads += 1
                tierReads += 1
            case (.file, .failure(.io(let code, _))):
                try expect(want == .io(code), "\(what()) failed with I/O error \(code)")
                failedReads += 1
                tierFailedReads += 1
            case (.file, .failure(.corrupt(slot, _))):
                try expect(want == .corrupt, "\(what()) reported a corrupt object")
                failedReads += 1
                // A checksum mismatch fails the tier's read; an object that does not
                // decompress was read.
                if checksums { tierFailedReads += 1 } else { tierReads += 1 }
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
            // The blocks in use before the operation, and the ones it took.
            for block in 0..<fileBlocks { usedBefore[block] = false; usedNow[block] = false }
            for slot in 0..<slotCount { if let block = blocks[slot] { usedBefore[block] = true } }
            taken.removeAll(keepingCapacity: true)
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
                let block = cache.fileBlock(of: slot)
                try expect((block != nil) == (now == .file), "slot \(slot) is in \(now) with file block \(String(describing: block))")
                if now == .file, let block {
                    try expect(block >= 0 && block < fileBlocks && !usedNow[block], "slot \(slot) in block \(block), out of the file or another slot's")
                    usedNow[block] = true
                    if slot == storedSlot || was != .file {
                        // Just put in the file: stored raw by a store the pool refused, or its
                        // pool object written back; in a block that was free.
                        if rawInFile[slot] != (slot == storedSlot) {
                            rawInFile[slot] = slot == storedSlot
                            objectChanged(slot)
                        }
                        taken.append(block)
                        try expect(!usedBefore[block], "slot \(slot) was put in block \(block), which was in use")
                    } else {
                        try expect(block == blocks[slot], "slot \(slot) moved from block \(String(describing: blocks[slot])) to \(block) in the file")
                    }
                    try expect(blockHoldsObject(slot, block: block),
                               "slot \(slot)'s block \(block) does not hold its \(rawInFile[slot] ? "raw page" : "pool object") and zero padding")
                    blocks[slot] = block
                } else {
                    blocks[slot] = nil
                }
                if now == .pool { inPool += 1 }
                if now == .file { inFile += 1 }
                locations[slot] = now
            }
            if let storedSlot, locations[storedSlot] == .file { fileStores += 1 }
            let s = cache.frontswapStatistics
            let written = s.writtenBackPages - before.statistics.writtenBackPages
            if touched != nil {
                // A store may write back other slots to make room.
                writtenBack += written
            }
            try expect(
                written >= movedToFile && written <= movedToFile + ownWriteback,
                "\(written) pages written back, \(movedToFile) slots moved to the file")
            // Each write takes the lowest free block (a failed one gives it back first). A store's
            // own slot written back by its shrink, then replaced, held a block for a while.
            var transient = written - movedToFile
            if let touched, touched != storedSlot, locations[touched] == .file, !usedBefore[blocks[touched]!] { transient -= 1 }
            var lowest = taken.count + transient
            for block in 0..<fileBlocks {
                lowestFree[block] = lowest > 0 && !usedBefore[block]
                if lowestFree[block] { lowest -= 1 }
            }
            try expect(taken.allSatisfy { lowestFree[$0] },
                       "the operation took blocks \(taken.sorted()), not among the lowest free ones \((0..<fileBlocks).filter { lowestFree[$0] })")
            try expect(s.writtenBackPages == writtenBack, "written_back_pages \(s.writtenBackPages), the model \(writtenBack)")
            try expect(s.storedPages == inPool && s.pagesInFile == inFile, "stored_pages \(s.storedPages), pages in the file \(s.pagesInFile); slots: \(inPool) in the pool, \(inFile) in the file")
            try expect(s.failedReads == failedReads, "failed_reads \(s.failedReads), the model \(failedReads)")
            try expect(s.failedWrites == file.injectedFaults(.write), "failed_writes \(s.failedWrites), \(file.injectedFaults(.write)) write faults injected")
            try expect(s.failedPunches == file.injectedFaults(.punch), "failed punches \(s.failedPunches), \(file.injectedFaults(.punch)) punch faults injected")
            try expect(file.injectedFaults(.read) == faults.injected(.read), "\(file.injectedFaults(.read)) read faults injected, the model expected \(faults.injected(.read))")
            try expect(s.notifyFree == notifyFree && s.missFree == 0, "notify_free \(s.notifyFree), miss_free \(s.missFree); the model \(notifyFree), 0")
            try expect(s.invalidates == invalidates && s.exclusiveLoads == exclusiveLoads, "invalidates \(s.invalidates), exclusive loads \(s.exclusiveLoads); the model \(invalidates), \(exclusiveLoads)")
            try expect(s.loads == loads && s.fileLoads == fileLoads, "loads \(s.loads), file loads \(s.fileLoads); the model \(loads), \(fileLoads)")
            try expect(s.fileStores == fileStores, "file stores \(s.fileStores), the model \(fileStores)")
            try expect(s.tier.storedObjects == inFile, "the tier holds \(s.tier.storedObjects) objects for \(inFile) slots in the file")
            try expect(s.tier.reads == tierReads && s.tier.failedReads == tierFailedReads,
                       "tier reads \(s.tier.reads), failed \(s.tier.failedReads); the model \(tierReads), \(tierFailedReads)")
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
