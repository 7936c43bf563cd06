#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import PageCodecs
import PageStore
import ZRAM

/// `FuzzZram`: operation sequences on a `ZramDevice` against a ``ZramModel``.
///
/// Input: the device's settings (page size 4 or 16 KiB, 1...16 slots, a `mem_limit` of a few
/// pages or none, LZ4 or zstd, a secondary codec for recompression or none, a backing file of
/// 1...16 blocks with or without checksums and hole punching, behind a
/// `FaultInjectingBackingFile` over a ``MemoryPageFile``), then operations until the input
/// ends (at most ``maximumOperations``): write a page (``PageBuilder``; sometimes to a slot
/// out of range or with the wrong size), read, discard, notify, sector write/read/discard at
/// any offset and length (aligned or not, in range or not), compact, mark idle, writeback
/// (idle, huge, huge_idle, incompressible, one slot) with the writeback limit, recompress,
/// inject a fault into the file (EIO, ENOSPC, short and corrupt reads, torn writes, failed
/// punches), clear the faults, reset.
///
/// What must hold after every operation: each result (value or typed error) is the one the
/// model expects; a read returns exactly the model's page (or, with a corrupt block and no
/// checksums, that page with the file's flipped byte) or an error that frees nothing; every
/// slot's flags, size and block agree with the model; mm_stat, io_stat, bd_stat, debug_stat
/// and the writeback counters agree with the model and with each other (`mem_used_total` within
/// `mem_limit` and at most `mem_used_max`, at least `compr_data_size`, zero with no objects);
/// the file injected exactly the faults the model expected; and the device's own
/// `checkInvariants()` passes (debug and fuzz builds).
///
/// Not covered: automatic writeback and concurrency (the device's concurrency tests cover
/// those), time-based idle marking (only `all`, `0 s` and a never-reached age).
public final class ZramSequenceCheck: FuzzCheck {
    public static let name = "FuzzZram"
    public static let maximumInputLength = 16_384
    /// The most operations one input runs.
    public static let maximumOperations = 96

    public init() {}

    /// A device, its file and the model, made from an input's first bytes.
    func setup(_ input: inout FuzzInput) throws(FuzzFailure) -> ZramRun {
        let pageSize = input.byte() & 3 == 3 ? 16_384 : 4096
        let slots = Int(input.byte()) % 16 + 1
        let limitByte = input.byte()
        let memLimit = limitByte & 3 == 0 ? (Int(limitByte >> 2) % 8 + 1) * 4096 : 0
        let codecByte = input.byte()
        let backingByte = input.byte()
        var configuration = ZramConfiguration(disksize: slots * pageSize, pageSize: pageSize, memLimit: memLimit)
        switch codecByte & 7 {
        case 0...4: configuration.codec = .lz4
        case 5, 6: configuration.codec = PageCodecFactory(.lz4(acceleration: 8))
        default: configuration.codec = (codecByte & 0x80) == 0 ? PageCodecFactory(.zstd(level: 1)) : .lz4
        }
        // zstd streams cost more to make than the rest of a device: one input in eight.
        switch (codecByte >> 3) & 7 {
        case 0, 1, 2: configuration.secondaryCodec = nil
        case 3: configuration.secondaryCodec = PageCodecFactory(.zstd(level: (codecByte & 0x40) == 0 ? 3 : -3))
        default: configuration.secondaryCodec = .lz4
        }
        var file: FaultInjectingBackingFile? = nil
        var disk: MemoryPageFile? = nil
        var blocks = 0
        let checksums = backingByte & 0x20 != 0
        let punches = backingByte & 0x40 == 0
        var batchSize = 0
        if backingByte & 1 == 1 {
            blocks = Int(backingByte >> 1) % 16 + 1
            let memory = MemoryPageFile(pageSize: pageSize, blockCount: blocks)
            let faulty = FaultInjectingBackingFile(wrapping: memory)
            disk = memory
            var backing = ZramBackingDevice(file: faulty, blockCount: blocks, checksums: checksums)
            backing.punchFreedBlocks = punches
            // Writeback's batches: the device's default (more pages than any run here has), or
            // 1-3 pages, so that one run sends several and a fault or a full file lands mid-run.
            if backingByte & 0x80 != 0 { backing.batchSize = Int(backingByte >> 1) % 3 + 1 }
            batchSize = backing.batchSize
            configuration.backingDevice = backing
            file = faulty
        }
        let device: ZramDevice
        do throws(ZramError) { device = try ZramDevice(configuration) } catch {
            throw failure("could not make a device of \(slots) slots of \(pageSize) bytes: \(error)")
        }
        let model = ZramModel(
            slotCount: slots, pageSize: pageSize, blockCount: blocks, punchesFreedBlocks: punches, batchSize: batchSize)
        // The device rounds mem_limit up to whole pages.
        let roundedLimit = (memLimit + pageSize - 1) / pageSize * pageSize
        return ZramRun(
            check: self, device: device, file: file, disk: disk, model: model, memLimit: roundedLimit, checksums: checksums,
            codec: configuration.codec, secondaryCodec: configuration.secondaryCodec)
    }

    public func check(_ input: UnsafeRawBufferPointer) throws(FuzzFailure) {
        var reader = FuzzInput(input)
        let run = try setup(&reader)
        var step = 0
        while !reader.isExhausted && step < Self.maximumOperations {
            run.step = step
            try run.perform(&reader)
            try run.verify()
            step += 1
        }
    }

    /// One input's device, model and buffers; runs and verifies operations.
    final class ZramRun {
        let check: ZramSequenceCheck
        let device: ZramDevice
        let file: FaultInjectingBackingFile?
        /// The memory file under ``file``: what a block holds, read past the faults.
        let disk: MemoryPageFile?
        let model: ZramModel
        let memLimit: Int
        let checksums: Bool
        let codec: PageCodecFactory
        let secondaryCodec: PageCodecFactory?
        var hasSecondary: Bool { secondaryCodec != nil }
        let page: ExactBuffer
        let readBuffer: ExactBuffer
        /// A block read past the faults, and the page a corrupt read of it must give.
        let block: ExactBuffer
        let altered: ExactBuffer
        /// The device's codecs, made the first time a corrupt object must be decoded.
        var decoder: CodecStream? = nil
        /// The file's blocks as they were before a byte-range write (``diskCopied`` while it is
        /// checked), which frees the blocks of the pages it rewrites before the model looks at
        /// what it read.
        let diskCopy: ExactBuffer
        var diskCopied = false
        var step = 0

        init(
            check: ZramSequenceCheck, device: ZramDevice, file: FaultInjectingBackingFile?, disk: MemoryPageFile?, model: ZramModel,
            memLimit: Int, checksums: Bool, codec: PageCodecFactory, secondaryCodec: PageCodecFactory?
        ) {
            self.check = check
            self.device = device
            self.file = file
            self.disk = disk
            self.model = model
            self.memLimit = memLimit
            self.checksums = checksums
            self.codec = codec
            self.secondaryCodec = secondaryCodec
            page = ExactBuffer(count: model.pageSize)
            readBuffer = ExactBuffer(count: model.pageSize)
            block = ExactBuffer(count: model.pageSize)
            altered = ExactBuffer(count: model.pageSize)
            diskCopy = ExactBuffer(count: max(1, model.blockCount) * model.pageSize)
        }

        var pageSize: Int { model.pageSize }
        var slotCount: Int { model.slotCount }

        func fail(_ message: String) -> FuzzFailure { check.failure(step: step, message) }

        func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws(FuzzFailure) {
            if !condition { throw fail(message()) }
        }

        // MARK: Operations

        func perform(_ input: inout FuzzInput) throws(FuzzFailure) {
            let op = input.byte()
            switch op % 20 {
            case 0, 1, 2, 3: try writePage(&input, variant: op >> 5)
            case 4, 5, 6: try readPage(slot(&input))
            case 7: try discard(slot(&input), notify: false)
            case 8: try discard(slot(&input), notify: true)
            case 9, 10: try sectorWrite(&input)
            case 11: try sectorRead(&input)
            case 12: try sectorDiscard(&input)
            case 13: try compact()
            case 14: try markIdle(op >> 5)
            case 15, 16: try writeback(&input)
            case 17: try recompress(&input)
            case 18: try fault(&input)
            default: try admin(op >> 5, &input)
            }
        }

        /// A slot from the input: in range, or now and then one past either end.
        func slot(_ input: inout FuzzInput) -> Int {
            let b = Int(input.byte())
            if b >= 250 { return b == 250 ? -1 : slotCount + (b - 251) }
            return b % slotCount
        }

        func writePage(_ input: inout FuzzInput, variant: UInt8) throws(FuzzFailure) {
            let slot = slot(&input)
            if variant == 7 {
                // A buffer of the wrong size is refused, whatever it holds.
                let wrong = ExactBuffer(count: pageSize + (input.bool() ? 1 : -1))
                switch result(of: { () throws(PageStoreError) in try device.writePage(wrong.readOnly, at: slot) }) {
                case .failure(.slotOutOfRange(slot, slotCount)) where !(0..<slotCount).contains(slot): return
                case .failure(.wrongPageSize(pageSize, wrong.count)) where (0..<slotCount).contains(slot): return
                case let other: throw fail("writePage of a \(wrong.count)-byte buffer at slot \(slot) gave \(other)")
                }
            }
            PageBuilder.build(page.bytes, from: &input)
            let outcome = result(of: { () throws(PageStoreError) in try device.writePage(page.readOnly, at: slot) })
            guard (0..<slotCount).contains(slot) else {
                guard case .failure(.slotOutOfRange(slot, slotCount)) = outcome else {
                    throw fail("writePage at slot \(slot) of \(slotCount) gave \(outcome)")
                }
                return
            }
            try store(outcome, at: slot, what: "writePage at slot \(slot)")
        }

        /// Applies a store's outcome to the model: stored, or refused by `mem_limit` (allowed
        /// only with a limit, and never for a same-filled page).
        func store(_ outcome: Result<Void, PageStoreError>, at slot: Int, what: @autoclosure () -> String) throws(FuzzFailure) {
            switch outcome {
            case .success:
                model.stored(page.readOnly, at: slot)
            case .failure(.memoryLimitExceeded(let limit, _)):
                try expect(memLimit > 0 && limit == memLimit, "\(what()) hit a memory limit of \(limit) with mem_limit \(memLimit)")
                try expect(SameFilled.word(of: page.readOnly) == nil, "\(what()): a same-filled page was refused by mem_limit")
                model.failedWrites += 1
            case .failure(let error):
                throw fail("\(what()) failed: \(error)")
            }
        }

        /// The byte a corrupt read flips (`FaultInjectingBackingFile.Fault.corrupt`: the 17th).
        var corruptByte: Int { 16 }

        /// What reading `slot` (holding something) is expected to give: the error, or `nil` and
        /// the page (the model's, or what a corrupt object decodes to); a written-back slot
        /// consults the fault mirror. A corrupt read flips a byte of the block: in the padding
        /// (past the object) it changes nothing; inside the object, with checksums it is
        /// `.corrupt`; without, a raw page comes back with that byte flipped and a compressed
        /// object comes back as whatever the device's codec makes of it (decoded here from the
        /// block, read past the faults), or `.corrupt` when it does not decode.
        func expectedLoad(_ slot: Int) throws(FuzzFailure) -> (error: PageStoreError?, page: UnsafeRawBufferPointer) {
            let page = UnsafeRawBufferPointer(model.page(slot))
            guard case .writtenBack(let blockIndex) = model.states[slot] else { return (nil, page) }
            model.bdReads += 1
            switch model.faults.next(.read, block: blockIndex) {
            case nil, .delay?: return (nil, page)
            case .error(let code)?: return (.io(errno: code, operation: ""), page)
            case .short?: return (.io(errno: EIO, operation: ""), page)
            case .corrupt?:
                let length = model.objectLengths[slot]
                guard corruptByte < length else { return (nil, page) }
                if checksums { return (.corrupt(slot: slot, reason: ""), page) }
                if length >= pageSize {
                    altered.bytes.copyMemory(from: page)
                    altered.bytes[corruptByte] ^= 0x5A
                    return (nil, altered.readOnly)
                }
                if diskCopied {
                    block.bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: diskCopy.readOnly[(blockIndex * pageSize)..<((blockIndex + 1) * pageSize)]))
                } else if let disk {
                    disk.peekBlock(blockIndex, into: block.bytes)
                } else {
                    throw fail("slot \(slot) is written back without a file")
                }
                block.bytes[corruptByte] ^= 0x5A
                let stream = try codecs()
                do throws(CodecError) {
                    try stream.decode(
                        UnsafeRawBufferPointer(rebasing: block.readOnly[0..<length]), isRaw: false,
                        priority: model.objectPriorities[slot], into: altered.bytes)
                } catch {
                    return (.corrupt(slot: slot, reason: ""), page)
                }
                return (nil, altered.readOnly)
            }
        }

        /// The device's codecs (a stream of the primary and the secondary codec).
        func codecs() throws(FuzzFailure) -> CodecStream {
            if let decoder { return decoder }
            do throws(CodecError) {
                let made = CodecStream(primary: try codec.makeStream(), secondary: try secondaryCodec?.makeStream(), pageSize: pageSize)
                decoder = made
                return made
            } catch {
                throw fail("could not make the device's codecs: \(error)")
            }
        }

        /// Whether `error` is `expected` up to its message text.
        func same(_ error: PageStoreError, _ expected: PageStoreError) -> Bool {
            switch (error, expected) {
            case (.io(let a, _), .io(let b, _)): a == b
            case (.corrupt(let a, _), .corrupt(let b, _)): a == b
            default: error == expected
            }
        }


        func readPage(_ slot: Int) throws(FuzzFailure) {
            readBuffer.bytes.initializeMemory(as: UInt8.self, repeating: 0xEE)
            let outcome = result(of: { () throws(PageStoreError) in try device.readPage(at: slot, into: readBuffer.bytes) })
            guard (0..<slotCount).contains(slot) else {
                guard case .failure(.slotOutOfRange(slot, slotCount)) = outcome else { throw fail("readPage at slot \(slot) gave \(outcome)") }
                return
            }
            guard model.states[slot] != .empty else {
                guard case .failure(.emptySlot(slot)) = outcome else { throw fail("readPage of empty slot \(slot) gave \(outcome)") }
                return
            }
            let (expectedError, expectedPage) = try expectedLoad(slot)
            switch (outcome, expectedError) {
            case (.success, nil):
                try expect(memcmp(readBuffer.readOnly.baseAddress!, expectedPage.baseAddress!, pageSize) == 0, "readPage of slot \(slot) (\(model.states[slot])) returned a different page")
                model.accessed(slot)
            case (.failure(let error), let expected?) where same(error, expected):
                model.failedReads += 1
            default:
                throw fail("readPage of slot \(slot) (\(model.states[slot])) gave \(outcome), expected \(expectedError.map { "\($0)" } ?? "the page")")
            }
        }

        func discard(_ slot: Int, notify: Bool) throws(FuzzFailure) {
            if notify { device.slotFreeNotify(slot) } else { device.discard(slot) }
            guard (0..<slotCount).contains(slot) else { return }
            if notify { model.notifyFree += 1 }
            model.free(slot)
        }

        /// An offset and length for byte-range I/O: sector multiples inside the device (within
        /// one page under a `mem_limit`, so a refused store has one place to be), now and then
        /// unaligned or past the end.
        func range(_ input: inout FuzzInput) -> (offset: Int, length: Int) {
            let sectors = pageSize / ZramDevice.sectorSize
            let disksize = device.disksize
            var offset = input.int(in: 0...(slotCount * sectors + 1)) * ZramDevice.sectorSize
            var length: Int
            if memLimit > 0 {
                let within = offset % pageSize
                length = input.int(in: 0...((pageSize - within) / ZramDevice.sectorSize)) * ZramDevice.sectorSize
            } else {
                length = input.int(in: 0...(3 * sectors)) * ZramDevice.sectorSize
            }
            let twist = input.byte()
            switch twist & 31 {
            case 0: offset += Int(twist >> 5) + 1
            case 1: length += Int(twist >> 5) + 1
            case 2: length = disksize - offset + ZramDevice.sectorSize
            case 3: offset = -ZramDevice.sectorSize
            default: break
            }
            return (offset, max(0, length))
        }

        /// The error a byte range must get, or `nil` when it is valid.
        func rangeError(offset: Int, length: Int) -> ZramError? {
            let sector = ZramDevice.sectorSize
            if offset % sector != 0 || length % sector != 0 || offset < 0 { return .unalignedIO(offset: offset, length: length) }
            if offset > device.disksize || length > device.disksize - offset {
                return .outOfRange(offset: offset, length: length, disksize: device.disksize)
            }
            return nil
        }

        /// Walks the pages of a valid range: `(slot, offset within the page, bytes, offset in the buffer)`.
        func chunks(offset: Int, length: Int) -> [(slot: Int, within: Int, count: Int, at: Int)] {
            var result: [(Int, Int, Int, Int)] = []
            var done = 0
            while done < length {
                let position = offset + done
                let within = position % pageSize
                let count = min(pageSize - within, length - done)
                result.append((position / pageSize, within, count, done))
                done += count
            }
            return result
        }

        /// Checks a byte-range call's outcome when the range is invalid; `true` when it was.
        func refusedRange<T>(_ outcome: Result<T, ZramError>, offset: Int, length: Int, _ what: () -> String) throws(FuzzFailure) -> Bool {
            guard let error = rangeError(offset: offset, length: length) else { return false }
            guard case .failure(error) = outcome else { throw fail("\(what()) gave \(outcome), expected \(error)") }
            return true
        }

        /// The device reads `slot` inside a byte-range call: puts what it should read into
        /// ``page`` (zeros for an empty slot) and returns `true`, or, when the read must fail,
        /// checks that the call failed that way and returns `false` (the call ends there).
        func loadChunk<T>(_ slot: Int, outcome: Result<T, ZramError>, _ what: () -> String) throws(FuzzFailure) -> Bool {
            guard model.states[slot] != .empty else {
                page.bytes.initializeMemory(as: UInt8.self, repeating: 0)
                return true
            }
            let (error, expectedPage) = try expectedLoad(slot)
            if let error {
                model.failedReads += 1
                guard case .failure(.page(let got)) = outcome, same(got, error) else {
                    throw fail("\(what()): reading slot \(slot) should fail with \(error), the call gave \(outcome)")
                }
                return false
            }
            page.bytes.copyMemory(from: expectedPage)
            model.accessed(slot)
            return true
        }

        func sectorWrite(_ input: inout FuzzInput) throws(FuzzFailure) {
            let (offset, length) = range(&input)
            let data = ExactBuffer(count: length)
            var pageInput = input
            if length > 0 {
                // The bytes come from pages the input shapes, cut to the range.
                let scratch = ExactBuffer(count: (length + pageSize - 1) / pageSize * pageSize)
                for p in 0..<(scratch.count / pageSize) {
                    PageBuilder.build(UnsafeMutableRawBufferPointer(rebasing: scratch.bytes[(p * pageSize)..<((p + 1) * pageSize)]), from: &pageInput)
                }
                data.bytes.copyMemory(from: scratch.prefix(length))
            }
            input = pageInput
            // A corrupt read of a compressed page without checksums is decoded from its block:
            // keep the blocks as they are before the write frees them.
            if let disk, !checksums {
                for b in 0..<model.blockCount where model.blockUsed[b] {
                    disk.peekBlock(b, into: UnsafeMutableRawBufferPointer(rebasing: diskCopy.bytes[(b * pageSize)..<((b + 1) * pageSize)]))
                }
                diskCopied = true
            }
            defer { diskCopied = false }
            let outcome = result(of: { () throws(ZramError) in try device.write(data.readOnly, at: offset) })
            func what() -> String { "write of \(length) bytes at \(offset)" }
            if try refusedRange(outcome, offset: offset, length: length, what) { return }
            // Page by page, as the device goes: a partial page is read (which may fail), patched
            // and stored; the first failure ends the write.
            for chunk in chunks(offset: offset, length: length) {
                let slot = chunk.slot
                if chunk.count == pageSize {
                    page.bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: data.readOnly[chunk.at..<(chunk.at + pageSize)]))
                } else {
                    guard try loadChunk(slot, outcome: outcome, what) else { return }
                    (page.bytes.baseAddress! + chunk.within).copyMemory(from: data.readOnly.baseAddress! + chunk.at, byteCount: chunk.count)
                }
                // Under a mem_limit the range is one page, so a refused store is this one.
                if memLimit > 0, case .failure(.page(.memoryLimitExceeded(let limit, let needed))) = outcome {
                    try store(.failure(.memoryLimitExceeded(limit: limit, needed: needed)), at: slot, what: what())
                    return
                }
                model.stored(page.readOnly, at: slot)
            }
            guard case .success = outcome else { throw fail("\(what()) gave \(outcome)") }
        }

        func sectorRead(_ input: inout FuzzInput) throws(FuzzFailure) {
            let (offset, length) = range(&input)
            let buffer = ExactBuffer(count: length, fill: 0xEE)
            let outcome = result(of: { () throws(ZramError) in try device.read(into: buffer.bytes, at: offset) })
            func what() -> String { "read of \(length) bytes at \(offset)" }
            if try refusedRange(outcome, offset: offset, length: length, what) { return }
            for chunk in chunks(offset: offset, length: length) {
                guard try loadChunk(chunk.slot, outcome: outcome, what) else { return }
                try expect(
                    memcmp(buffer.readOnly.baseAddress! + chunk.at, page.readOnly.baseAddress! + chunk.within, chunk.count) == 0,
                    "\(what()): the bytes of slot \(chunk.slot) (\(model.states[chunk.slot])) differ from the model's")
            }
            guard case .success = outcome else { throw fail("\(what()) gave \(outcome)") }
        }

        func sectorDiscard(_ input: inout FuzzInput) throws(FuzzFailure) {
            let (offset, length) = range(&input)
            let outcome = result(of: { () throws(ZramError) in try device.discard(bytesAt: offset, length: length) })
            func what() -> String { "discard of \(length) bytes at \(offset)" }
            if try refusedRange(outcome, offset: offset, length: length, what) { return }
            guard case .success = outcome else { throw fail("\(what()) gave \(outcome)") }
            let first = (offset + pageSize - 1) / pageSize
            let end = (offset + length) / pageSize
            if first < end { for slot in first..<end { model.free(slot) } }
        }

        func compact() throws(FuzzFailure) {
            let before = device.mmStat.memUsedTotal
            let pages = device.compact()
            try expect(pages >= 0, "compact() returned \(pages)")
            model.pagesCompacted += pages
            try expect(device.mmStat.memUsedTotal <= before, "compact() raised mem_used_total from \(before) to \(device.mmStat.memUsedTotal)")
        }

        func markIdle(_ variant: UInt8) throws(FuzzFailure) {
            let marked: Int
            let markAll: Bool
            switch variant % 3 {
            case 0: marked = device.markIdle(.all); markAll = true
            case 1: marked = device.markIdle(olderThan: 0); markAll = true
            default: marked = device.markIdle(olderThan: 1 << 30); markAll = false
            }
            var expected = 0
            if markAll {
                for slot in 0..<slotCount where model.states[slot] == .same || model.states[slot] == .pool {
                    model.idle[slot] = true
                    expected += 1
                }
            }
            try expect(marked == expected, "markIdle marked \(marked) slots, the model \(expected)")
        }

        /// The flags and object sizes of every slot, read before an operation that chooses
        /// slots by them.
        func snapshot() throws(FuzzFailure) -> [(flags: ZramSlotFlags, size: Int)] {
            var result: [(ZramSlotFlags, Int)] = []
            for slot in 0..<slotCount {
                do throws(PageStoreError) {
                    result.append((try device.slotFlags(slot), try device.objectSize(slot)))
                } catch {
                    throw fail("slot \(slot) of \(slotCount): \(error)")
                }
            }
            return result
        }

        func writeback(_ input: inout FuzzInput) throws(FuzzFailure) {
            let modeByte = input.byte()
            let maxPages = modeByte & 0x80 != 0 ? Int(input.byte() % 6) : Int.max
            let mode: ZramWritebackMode
            switch modeByte & 7 {
            case 0, 1: mode = .idle
            case 2: mode = .huge
            case 3: mode = .hugeIdle
            case 4: mode = .incompressible
            default: mode = .slot(slot(&input))
            }
            let before = try snapshot()
            let outcome = result(of: { () throws(ZramError) in try device.writeback(mode, maxPages: maxPages) })
            func what() -> String { "writeback(\(mode), maxPages: \(maxPages))" }
            guard let file else {
                guard case .failure(.noBackingDevice) = outcome else { throw fail("\(what()) without a backing file gave \(outcome)") }
                return
            }
            _ = file
            var range = 0..<slotCount
            if case .slot(let s) = mode {
                guard (0..<slotCount).contains(s) else {
                    guard case .failure(.page(.slotOutOfRange(s, slotCount))) = outcome else { throw fail("\(what()) gave \(outcome)") }
                    return
                }
                range = s..<(s + 1)
            }
            if maxPages <= 0 {
                guard case .success(0) = outcome else { throw fail("\(what()) gave \(outcome), expected 0") }
                return
            }
            if model.writebackLimitEnabled && model.writebackLimit < model.unitsPerPage {
                guard case .failure(.writebackLimitReached(model.writebackLimit)) = outcome else {
                    throw fail("\(what()) with writeback_limit \(model.writebackLimit) gave \(outcome)")
                }
                return
            }
            // As the device goes: batches of up to min(batchSize, pages still wanted, pages the
            // limit still allows) qualifying slots in slot order; in a batch each page takes the
            // lowest free block; a failed write gives its block back (unpunched: nothing was
            // stored) and the next page takes it again; once no block is free the rest of the
            // batch is refused unwritten and the run stops after the batch. Failed pages are not
            // tried again in the run; the limit is charged after each batch.
            var written = 0, failures = 0
            var last: PageStoreError? = nil
            var stoppedByLimit = false, stoppedByFullFile = false
            func qualifies(_ slot: Int) -> Bool {
                guard model.states[slot] == .pool else { return false }
                let flags = before[slot].flags
                switch mode {
                case .idle: return model.idle[slot]
                case .huge: return flags.contains(.huge)
                case .hugeIdle: return flags.contains(.huge) && model.idle[slot]
                case .incompressible: return flags.contains(.incompressible)
                case .slot: return true
                }
            }
            var next = range.lowerBound
            while written < maxPages && next < range.upperBound {
                let budget = model.writebackLimitEnabled ? model.writebackLimit / model.unitsPerPage : Int.max
                let room = min(model.batchSize, maxPages - written, budget)
                if room == 0 { stoppedByLimit = true; break }
                var batch: [Int] = []
                while next < range.upperBound && batch.count < room {
                    if qualifies(next) { batch.append(next) }
                    next += 1
                }
                guard !batch.isEmpty else { break }
                var batchWritten = 0, noRoom = 0, batchFailed = 0
                for slot in batch {
                    guard let block = model.lowestFreeBlock else { noRoom += 1; continue }
                    let code: Int32
                    switch model.faults.next(.write, block: block) {
                    case nil, .corrupt?, .delay?:
                        model.states[slot] = .writtenBack(block: block)
                        model.objectLengths[slot] = before[slot].size
                        model.objectPriorities[slot] = before[slot].flags.priority
                        model.blockUsed[block] = true
                        model.idle[slot] = false
                        batchWritten += 1
                        continue
                    case .error(let errno)?: code = errno
                    case .short?: code = EIO
                    }
                    // The batch reports its first failure; the run the last batch's.
                    if batchFailed == 0 { last = .io(errno: code, operation: "") }
                    batchFailed += 1
                }
                written += batchWritten
                failures += batchFailed
                model.bdWrites += batchWritten
                model.failedWrites += batchFailed
                model.writebackFailedWrites += batchFailed
                model.writebackRefused += batchFailed + noRoom
                model.tierAcknowledged += batchWritten
                model.tierRefused += batchFailed + noRoom
                if model.writebackLimitEnabled { model.writebackLimit = max(0, model.writebackLimit - batchWritten * model.unitsPerPage) }
                if noRoom > 0 { stoppedByFullFile = true; break }
            }
            switch outcome {
            case .failure(.writebackFailed(let w, let f, let l)) where failures > 0:
                try expect(w == written && f == failures && same(l, last!), "\(what()) gave \(outcome), the model \(written) written, \(failures) failed (\(last!))")
            case .failure(.writebackLimitReached(let limit)) where failures == 0 && written == 0 && stoppedByLimit:
                try expect(limit == model.writebackLimit, "\(what()) reported writeback_limit \(limit), the model \(model.writebackLimit)")
            case .failure(.backingFileFull(let blocks)) where failures == 0 && written == 0 && stoppedByFullFile && !stoppedByLimit:
                try expect(blocks == model.blockCount, "\(what()) reported \(blocks) blocks, the file has \(model.blockCount)")
            case .success(let w) where failures == 0 && !(written == 0 && (stoppedByLimit || stoppedByFullFile)):
                try expect(w == written, "\(what()) wrote \(w) pages, the model \(written)")
            default:
                throw fail("\(what()) gave \(outcome); the model: \(written) written, \(failures) failed, limit stop \(stoppedByLimit), full file \(stoppedByFullFile)")
            }
        }

        func recompress(_ input: inout FuzzInput) throws(FuzzFailure) {
            let typeByte = input.byte()
            let type: ZramRecompressionType = typeByte % 3 == 0 ? .idle : typeByte % 3 == 1 ? .huge : .hugeIdle
            let thresholdByte = input.byte()
            let threshold: Int
            switch thresholdByte & 3 {
            case 0, 1: threshold = 0
            case 2: threshold = Int(thresholdByte >> 2) * 64
            default: threshold = thresholdByte == 255 ? device.hugeClassSize : -1
            }
            let maxPages = typeByte & 0x80 != 0 ? Int(input.byte() % 5) : Int.max
            let before = try snapshot()
            let outcome = result(of: { () throws(ZramError) in try device.recompress(type: type, threshold: threshold, maxPages: maxPages) })
            func what() -> String { "recompress(type: \(type), threshold: \(threshold), maxPages: \(maxPages))" }
            guard hasSecondary else {
                guard case .failure(.noSecondaryCodec) = outcome else { throw fail("\(what()) without a secondary codec gave \(outcome)") }
                return
            }
            guard threshold >= 0 && threshold < device.hugeClassSize else {
                guard case .failure(.invalidConfiguration) = outcome else { throw fail("\(what()) gave \(outcome)") }
                return
            }
            guard case .success(let improved) = outcome else { throw fail("\(what()) failed: \(outcome)") }
            var tried = Set<Int>()
            for slot in 0..<slotCount where tried.count < maxPages && model.states[slot] == .pool {
                let (flags, size) = before[slot]
                guard !flags.contains(.incompressible), flags.priority == 0 else { continue }
                let required: Bool
                switch type {
                case .idle: required = model.idle[slot]
                case .huge: required = flags.contains(.huge)
                case .hugeIdle: required = flags.contains(.huge) && model.idle[slot]
                }
                guard required, threshold == 0 || size >= threshold else { continue }
                tried.insert(slot)
                model.idle[slot] = false
            }
            let after = try snapshot()
            var shrunk = 0
            for slot in 0..<slotCount {
                let (old, new) = (before[slot], after[slot])
                if !tried.contains(slot) {
                    try expect(
                        old.size == new.size && old.flags.subtracting(.idle) == new.flags.subtracting(.idle),
                        "\(what()) changed slot \(slot), which it should not have tried: \(old) -> \(new)")
                    continue
                }
                if new.flags.priority == 1 {
                    shrunk += 1
                    try expect(new.size < old.size && !new.flags.contains(.huge), "\(what()): slot \(slot) went from \(old) to \(new)")
                    if threshold > 0 { try expect(new.size < threshold, "\(what()): slot \(slot) kept a \(new.size)-byte object over the threshold") }
                } else {
                    try expect(new.size == old.size, "\(what()): slot \(slot) changed size without recompressing: \(old) -> \(new)")
                    try expect(!new.flags.contains(.incompressible) || old.flags.contains(.huge), "\(what()): slot \(slot) marked incompressible but was not huge")
                }
            }
            try expect(shrunk == improved, "\(what()) reported \(improved) improved slots, \(shrunk) changed")
        }

        func fault(_ input: inout FuzzInput) throws(FuzzFailure) {
            let kind = input.byte()
            let target = input.byte()
            guard let file else { return }
            let block: Int? = target & 0x80 != 0 ? nil : Int(target) % max(1, model.blockCount)
            let times: Int? = kind & 0x60 == 0x60 ? nil : Int(kind >> 5) + 1
            let operation: FaultInjectingBackingFile.Operation
            let fault: FaultInjectingBackingFile.Fault
            switch kind & 7 {
            case 0: (operation, fault) = (.read, .error(errno: EIO))
            case 1: (operation, fault) = (.read, .short)
            case 2: (operation, fault) = (.read, .corrupt)
            case 3: (operation, fault) = (.write, .error(errno: EIO))
            case 4: (operation, fault) = (.write, .error(errno: ENOSPC))
            case 5: (operation, fault) = (.write, .short)
            case 6: (operation, fault) = (.punch, .error(errno: EIO))
            default:
                model.faults.clear(file)
                return
            }
            model.faults.inject(fault, on: operation, block: block, times: times, into: file)
        }

        func admin(_ variant: UInt8, _ input: inout FuzzInput) throws(FuzzFailure) {
            switch variant {
            case 0, 1:
                device.writebackLimitEnabled = input.bool()
                model.writebackLimitEnabled = device.writebackLimitEnabled
            case 2, 3:
                let value = Int(input.byte() % 24) - 4
                device.writebackLimit = value
                model.writebackLimit = max(0, value)
            case 4:
                device.resetMemUsedMax()
                let mm = device.mmStat
                try expect(mm.memUsedMax == mm.memUsedTotal, "after resetMemUsedMax mem_used_max is \(mm.memUsedMax), mem_used_total \(mm.memUsedTotal)")
            default:
                device.reset()
                for slot in 0..<slotCount { model.free(slot) }
                model.failedReads = 0
                model.failedWrites = 0
                model.notifyFree = 0
                model.bdReads = 0
                model.bdWrites = 0
                model.writebackFailedWrites = 0
                model.writebackRefused = 0
                model.failedPunches = 0
                model.pagesCompacted = 0
                model.writebackLimitEnabled = false
                model.writebackLimit = 0
            }
        }

        // MARK: Verification

        func verify() throws(FuzzFailure) {
            #if DEBUG
            device.checkInvariants()
            #endif
            var huge = 0
            for slot in 0..<slotCount {
                let flags: ZramSlotFlags
                let size: Int
                let block: Int?
                do throws(PageStoreError) {
                    flags = try device.slotFlags(slot)
                    size = try device.objectSize(slot)
                    block = try device.writtenBackBlock(of: slot)
                } catch {
                    throw fail("slot \(slot): \(error)")
                }
                let state = model.states[slot]
                func where_() -> String { "slot \(slot) (model: \(state), idle \(model.idle[slot])) has flags \(flags), size \(size)" }
                switch state {
                case .empty: try expect(flags.isEmpty && size == 0 && block == nil, where_())
                case .same: try expect(flags.contains(.same) && !flags.contains(.writtenBack) && size == 0 && block == nil, where_())
                case .pool:
                    try expect(!flags.contains(.same) && !flags.contains(.writtenBack) && size > 0 && block == nil, where_())
                    try expect(!flags.contains(.huge) || size == pageSize, where_())
                    if flags.contains(.huge) { huge += 1 }
                case .writtenBack(let b): try expect(flags.contains(.writtenBack) && block == b && size == 0, where_() + ", block \(block ?? -1)")
                }
                try expect(flags.contains(.idle) == model.idle[slot], where_())
                try expect(!flags.contains(.postProcessing) && !flags.contains(.lock), where_())
            }
            let mm = device.mmStat
            try expect(mm.origDataSize == model.storedCount * pageSize, "orig_data_size \(mm.origDataSize), the model stores \(model.storedCount) pages")
            try expect(mm.samePages == model.sameCount, "same_pages \(mm.samePages), the model \(model.sameCount)")
            try expect(mm.hugePages == huge, "huge_pages \(mm.hugePages), \(huge) slots are huge")
            try expect(mm.pagesCompacted == model.pagesCompacted, "pages_compacted \(mm.pagesCompacted), compaction returned \(model.pagesCompacted)")
            try expect(mm.memUsedTotal <= mm.memUsedMax, "mem_used_total \(mm.memUsedTotal) above mem_used_max \(mm.memUsedMax)")
            try expect(mm.comprDataSize <= mm.memUsedTotal, "compr_data_size \(mm.comprDataSize) above mem_used_total \(mm.memUsedTotal)")
            try expect(memLimit == 0 || mm.memUsedTotal <= memLimit, "mem_used_total \(mm.memUsedTotal) above mem_limit \(memLimit)")
            try expect(mm.memLimit == memLimit, "mem_limit reads \(mm.memLimit), configured \(memLimit)")
            if model.poolCount == 0 {
                try expect(mm.memUsedTotal == 0 && mm.comprDataSize == 0, "no pool objects but mem_used_total \(mm.memUsedTotal), compr_data_size \(mm.comprDataSize)")
            }
            let io = device.ioStat
            try expect(
                io == ZramIOStat(failedReads: model.failedReads, failedWrites: model.failedWrites, notifyFree: model.notifyFree),
                "io_stat \(io), the model \(model.failedReads) \(model.failedWrites) \(model.notifyFree)")
            try expect(device.debugStat.missFree == 0, "miss_free \(device.debugStat.missFree) with one thread")
            let units = model.unitsPerPage
            let bd = device.bdStat
            try expect(
                bd == ZramBDStat(count: model.writtenBackCount * units, reads: model.bdReads * units, writes: model.bdWrites * units),
                "bd_stat \(bd), the model \(model.writtenBackCount) \(model.bdReads) \(model.bdWrites) pages")
            let wb = device.writebackStatistics
            try expect(wb.failedWrites == model.writebackFailedWrites, "writeback failed_writes \(wb.failedWrites), the model \(model.writebackFailedWrites)")
            try expect(wb.failedPunches == model.failedPunches, "failed punches \(wb.failedPunches), the model \(model.failedPunches)")
            try expect(wb.refusedPages == model.writebackRefused, "writeback refused \(wb.refusedPages) pages, the model \(model.writebackRefused)")
            if file != nil {
                let tier = device.tierStatistics ?? PageTierStatistics()
                try expect(
                    tier.storedObjects == model.writtenBackCount && tier.acknowledgedWrites == model.tierAcknowledged
                        && tier.refusedWrites == model.tierRefused,
                    "the file tier stores \(tier.storedObjects) objects (\(tier.acknowledgedWrites) acknowledged, \(tier.refusedWrites) refused), the model \(model.writtenBackCount) (\(model.tierAcknowledged), \(model.tierRefused))")
            }
            try expect(wb.cancelled == 0, "\(wb.cancelled) writebacks cancelled with one thread")
            try expect(device.writebackLimitEnabled == model.writebackLimitEnabled && device.writebackLimit == model.writebackLimit,
                       "writeback_limit \(device.writebackLimitEnabled) \(device.writebackLimit), the model \(model.writebackLimitEnabled) \(model.writebackLimit)")
            if let file { try expect(model.faults.matches(file), "the file injected other faults than the model expected") }
        }
    }

    /// Sequences that reach every operation: stores of each page kind, reads, sector I/O,
    /// idle marking and writeback with faults (in one batch and in small batches that fill the
    /// file), corrupt reads, recompression, reset.
    public static func seeds() -> [[UInt8]] {
        let text = SeedPages.page(kind: 1)
        let noise = SeedPages.page(kind: 6)
        let write: (UInt8, [UInt8]) -> [UInt8] = { slot, page in [0, slot, PageBuilder.rawPage] + page }
        // settings: 4 KiB pages, 8 slots, no limit, lz4 + zstd-3 secondary, 8 blocks with checksums
        let settings: [UInt8] = [0, 7, 1, 0x18, 0x2F]
        var seeds: [[UInt8]] = []
        seeds.append(settings + write(0, text) + write(1, noise) + [0, 2, 0] + [0, 3, 1] + [0, 4, 0x0B] + [4, 0, 4, 1, 4, 2]
            + [14] + [15, 0] + [4, 0, 4, 1] + [15, 2] + [17, 1, 0] + [7, 0, 8, 1, 4, 0])
        seeds.append(settings + write(0, text) + write(1, text) + [14] + [18, 0x20, 0x80] + [15, 0] + [4, 0, 4, 1]
            + [18, 0x05, 0x80] + [15, 5, 1] + [18, 0x06, 0x80] + [7, 0] + [19] + [0x99, 0])
        seeds.append(settings + [9, 10, 0, 0, 4, 0x0B, 0, PageBuilder.rawPage] + text + [11, 0, 24, 0, 4] + [12, 4, 0, 8, 0, 4] + [13])
        seeds.append([3, 3, 0x04, 0, 0] + write(0, noise + noise + noise + noise) + write(1, text + text + text + text) + [13, 7, 0, 4, 1])
        seeds.append([0, 15, 0x08, 0x20, 0x21] + write(0, noise) + write(1, noise) + [0, 2, 2, 7, 0] + [14, 17, 1, 0, 17, 2, 0] + [15, 4] + [0xB3, 0])
        // 4 slots, a file of 2 blocks without checksums written back 3 pages a batch: the first
        // write fails (EIO on block 0), the next page takes block 0, the third block 1, and the
        // next batch finds no room; then a corrupt read of each written-back page.
        seeds.append([0, 3, 1, 0, 0x83] + write(0, text) + write(1, noise) + write(2, text) + write(3, noise) + [14]
            + [18, 0x03, 0x00] + [15, 0] + [4, 0, 4, 1, 4, 2, 4, 3] + [18, 0x02, 0x80] + [4, 1] + [18, 0x02, 0x80] + [4, 2] + [0xB3, 0])
        return seeds
    }
}
