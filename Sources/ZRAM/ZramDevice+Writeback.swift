import SystemSupport
import PageCodecs
import PageStore
import Synchronization

/// A device's file tier: the backing file, its free blocks, optional checksums, and the one
/// scratch page writeback decompresses into.
///
/// **Memory and ownership.** Everything is made once with the device: the block allocator (one
/// bit per block), checksums (8 bytes per block, when enabled) and the scratch page (inside
/// ``exclusive``, freed with it). The file belongs to the caller; the tier never closes it.
///
/// **Thread safety.** The file, allocator and checksums are safe to share (see their types). The
/// scratch page and the automatic clock hand sit inside ``exclusive``: one writeback, manual or
/// automatic, runs at a time, so the post-processing flag on a slot (ZRAM_PP_SLOT) can only be
/// set by the writeback that holds it. A block is owned either by a writeback in flight or by the
/// written-back slot whose handle names it; its checksum entry follows the same owner.
final class WritebackTier: Sendable {
    let file: any PageFile
    /// The free blocks. Every call goes through ``allocateBlock()`` / ``freeBlock(_:)``.
    let blocks: BlockAllocator
    /// Taken around every allocator call. Redundant with the allocator's own `Mutex`, but
    /// ThreadSanitizer cannot see `Mutex` on Linux and reports its bitmap as racing; this
    /// lock's atomics it sees. Uncontended it costs one compare-and-swap.
    let blocksLock = SpinLock()
    let checksums: PageChecksums?
    let punchFreedBlocks: Bool
    let automatic: ZramAutomaticWriteback?
    let exclusive: Mutex<Scratch>
    /// Taken inside ``exclusive`` for the same reason as ``blocksLock``: ThreadSanitizer does
    /// not see `Mutex` on Linux and reported the scratch as racing between two writebacks; it
    /// sees this lock's atomics. Never contended (the mutex is already held).
    let exclusiveOrder = SpinLock()

    /// The page a writeback decompresses into before writing it out, and the automatic clock
    /// hand (the next slot the automatic scan looks at).
    ///
    /// **Memory.** One page allocated in `init`, freed in `deinit`, used only while
    /// ``WritebackTier/exclusive`` is held: that mutex is what makes the `@unchecked Sendable`
    /// safe.
    struct Scratch: ~Copyable, @unchecked Sendable {
        let page: UnsafeMutableRawBufferPointer
        var hand = 0
        init(pageSize: Int) {
            page = .allocate(byteCount: pageSize, alignment: 64)
            page.initializeMemory(as: UInt8.self, repeating: 0)
        }
        deinit { page.deallocate() }
    }

    init(_ backing: ZramBackingDevice, automatic: ZramAutomaticWriteback?, pageSize: Int) {
        file = backing.file
        blocks = BlockAllocator(capacity: backing.blockCount)
        checksums = backing.checksums ? PageChecksums(count: backing.blockCount) : nil
        punchFreedBlocks = backing.punchFreedBlocks
        self.automatic = automatic
        exclusive = Mutex(Scratch(pageSize: pageSize))
    }

    /// The lowest free block, or `nil` when the file is full.
    func allocateBlock() -> Int? {
        blocksLock.withLock { () -> Int? in try? blocks.allocate() }
    }

    /// Returns `block` to the free blocks.
    func freeBlock(_ block: Int) {
        blocksLock.withLock { _ = blocks.free(block) }
    }
}

/// How one slot's writeback ended.
enum SlotWritebackOutcome {
    /// The page is in the file; the slot is WB.
    case written
    /// The slot did not qualify (empty, same-filled, written back, busy with another flag set,
    /// or its object failed to decompress).
    case skipped
    /// The block was written but the slot changed meanwhile: the page stays in memory.
    case cancelled
    /// The block write failed: the page stays in memory.
    case writeFailed(PageStoreError)
    /// No free block.
    case fileFull
    /// The writeback limit is used up.
    case limitReached
}

/// What a run of writebacks did.
struct WritebackRun {
    var written = 0
    var failures = 0
    var lastFailure: PageStoreError? = nil
    var stoppedByLimit = false
    var stoppedByFullFile = false
}

extension ZramDevice {
    // MARK: Writeback

    /// Writes selected pages to the backing file and frees their memory (zram's `writeback`).
    ///
    /// For each chosen slot: under the slot's lock the page is decompressed (a huge page
    /// copied) into a preallocated scratch page and the slot marked for post-processing; the
    /// lock is dropped while the page is written to the lowest free block; then, only if the
    /// write succeeded and nobody read, wrote or freed the slot meanwhile, its pool object is
    /// freed and the slot becomes WB, holding the block index. A slot touched meanwhile keeps
    /// its page in memory (its block is freed again); a failed write keeps the page in memory
    /// and the run goes on, as the kernel's does. Same-filled, empty and written-back slots are
    /// skipped. One writeback runs at a time; this call waits for a running one.
    ///
    /// With the writeback limit enabled (``writebackLimitEnabled``), each page written takes
    /// its size in 4 KiB units off ``writebackLimit``; when less than one page is left the run
    /// stops.
    ///
    /// - Parameters:
    ///   - mode: which slots (`idle`, `huge`, `huge_idle`, `incompressible`, `page_index=`).
    ///   - maxPages: the most pages to write.
    /// - Returns: how many pages are now in the file. Fewer than `maxPages` when fewer slots
    ///   qualified, or the limit or the file ran out after some were written.
    /// - Throws: ``ZramError/noBackingDevice``; ``ZramError/page(_:)`` with `slotOutOfRange`
    ///   for a bad `.slot`; ``ZramError/writebackLimitReached(limit:)`` or
    ///   ``ZramError/backingFileFull(blocks:)`` when nothing could be written for that reason;
    ///   ``ZramError/writebackFailed(written:failures:last:)`` when any block write failed.
    @discardableResult
    public func writeback(_ mode: ZramWritebackMode, maxPages: Int = .max) throws(ZramError) -> Int {
        guard let tier = writebackTier else { throw .noBackingDevice }
        var range = 0..<slotCount
        if case .slot(let slot) = mode {
            do { try check(slot) } catch { throw .page(error) }
            range = slot..<(slot + 1)
        }
        guard maxPages > 0 else { return 0 }
        if counters.writebackLimitEnabled.load(ordering: .relaxed) {
            let left = counters.writebackLimit.load(ordering: .relaxed)
            if left < unitsPerPage { throw .writebackLimitReached(limit: left) }
        }
        // The stream first, then the writeback lock: a thread holding the lock never waits for a
        // stream, so threads that hold streams and wait for the lock cannot starve it.
        let index = streams.acquire()
        defer { streams.release(index) }
        let stream = streams.stream(index)
        let required = mode.required
        let run = tier.exclusive.withLock { scratch -> WritebackRun in
            tier.exclusiveOrder.withLock { () -> WritebackRun in
                var run = WritebackRun()
                var block = -1
                for slot in range where run.written < maxPages {
                    switch writeBackSlot(slot, required: required, tier: tier, stream: stream, page: scratch.page, block: &block) {
                    case .written: run.written += 1
                    case .skipped, .cancelled: break
                    case .writeFailed(let error):
                        run.failures += 1
                        run.lastFailure = error
                    case .fileFull:
                        run.stoppedByFullFile = true
                    case .limitReached:
                        run.stoppedByLimit = true
                    }
                    if run.stoppedByLimit || run.stoppedByFullFile { break }
                }
                releaseUnused(block, tier: tier)
                return run
            }
        }
        if let last = run.lastFailure {
            throw .writebackFailed(written: run.written, failures: run.failures, last: last)
        }
        if run.written == 0 && run.stoppedByLimit {
            throw .writebackLimitReached(limit: counters.writebackLimit.load(ordering: .relaxed))
        }
        if run.written == 0 && run.stoppedByFullFile { throw .backingFileFull(blocks: tier.blocks.capacity) }
        return run.written
    }

    /// writeback_limit_enable: whether ``writebackLimit`` bounds writeback (initially off;
    /// off again after ``reset()``).
    public var writebackLimitEnabled: Bool {
        get { counters.writebackLimitEnabled.load(ordering: .relaxed) }
        set { counters.writebackLimitEnabled.store(newValue, ordering: .relaxed) }
    }

    /// writeback_limit: how much writeback may still write, in 4 KiB units, while
    /// ``writebackLimitEnabled``; each page written back takes `pageSize / 4096` off it. Set
    /// it to grant a new budget (negative values count as 0). Reset to 0 by ``reset()``.
    public var writebackLimit: Int {
        get { counters.writebackLimit.load(ordering: .relaxed) }
        set { counters.writebackLimit.store(max(0, newValue), ordering: .relaxed) }
    }

    /// Whether the device has a backing file (``ZramConfiguration/backingDevice``).
    public var hasBackingDevice: Bool { writebackTier != nil }

    /// Whether reading `slot` now means reading the backing file (it is written back): a hint
    /// read without the slot's lock, for the swap layer's I/O threads.
    public func readNeedsIO(at slot: Int) -> Bool {
        guard slot >= 0 && slot < slotCount else { return false }
        return table.word(slot) & ZramSlotFlags.writtenBack.rawValue != 0
    }

    /// The file block holding `slot`'s page, or `nil` when the slot is not written back.
    public func writtenBackBlock(of slot: Int) throws(PageStoreError) -> Int? {
        try check(slot)
        table.lock(slot)
        defer { table.unlock(slot) }
        guard table.testFlag(slot, .writtenBack) else { return nil }
        return Int(table.handle(slot))
    }

    /// Failures, cancellations and the cost of automatic writeback.
    public var writebackStatistics: ZramWritebackStatistics {
        var s = ZramWritebackStatistics()
        s.failedWrites = counters.writebackFailedWrites.load(ordering: .relaxed)
        s.cancelled = counters.writebackCancelled.load(ordering: .relaxed)
        s.failedPunches = counters.failedPunches.load(ordering: .relaxed)
        s.automaticRounds = counters.automaticRounds.load(ordering: .relaxed)
        s.automaticPages = counters.automaticPages.load(ordering: .relaxed)
        s.automaticNanoseconds = counters.automaticNanoseconds.load(ordering: .relaxed)
        s.automaticBusy = counters.automaticBusy.load(ordering: .relaxed)
        s.automaticIdleMarkings = counters.automaticIdleMarkings.load(ordering: .relaxed)
        s.automaticFileFull = counters.automaticFileFull.load(ordering: .relaxed)
        s.automaticLimitStops = counters.automaticLimitStops.load(ordering: .relaxed)
        s.automaticCompactions = counters.automaticCompactions.load(ordering: .relaxed)
        return s
    }

    // MARK: One slot

    /// Whether a slot word qualifies for writeback: a pool object (not same-filled, not
    /// written back, not already being post-processed) carrying every flag in `required`.
    @inline(__always)
    func qualifiesForWriteback(_ word: UInt32, required: UInt32) -> Bool {
        let excluded = ZramSlotFlags.same.rawValue | ZramSlotFlags.writtenBack.rawValue
            | ZramSlotFlags.postProcessing.rawValue
        return word & ZramSlotFlags.sizeMask != 0 && word & excluded == 0 && word & required == required
    }

    /// Writes `slot` back if it qualifies (the caller holds `tier.exclusive`, whose scratch
    /// `page` this uses, and the codec `stream`). `block` is a block already taken from the
    /// allocator and not used yet, or -1; the function takes one when it needs it and leaves
    /// an unused one in `block` for the next slot.
    func writeBackSlot(
        _ slot: Int, required: UInt32, tier: WritebackTier, stream: CodecStream,
        page: UnsafeMutableRawBufferPointer, block: inout Int
    ) -> SlotWritebackOutcome {
        guard qualifiesForWriteback(table.word(slot), required: required) else { return .skipped }
        if counters.writebackLimitEnabled.load(ordering: .relaxed)
            && counters.writebackLimit.load(ordering: .relaxed) < unitsPerPage
        {
            return .limitReached
        }
        if block < 0 {
            guard let free = tier.allocateBlock() else { return .fileFull }
            block = free
        }
        // Read the page under the slot's lock and claim the slot (ZRAM_PP_SLOT).
        table.lock(slot)
        let word = table.word(slot)
        guard qualifiesForWriteback(word, required: required) else {
            table.unlock(slot)
            return .skipped
        }
        if decodeLocked(slot, word: word, into: page, using: stream) != nil {
            table.unlock(slot)
            counters.failedReads.add(1, ordering: .relaxed)
            return .skipped
        }
        table.setFlag(slot, .postProcessing)
        table.unlock(slot)

        // Write without the lock: reads of the slot are served from the pool meanwhile.
        do {
            try tier.file.writeBlock(UnsafeRawBufferPointer(page), at: block)
        } catch {
            table.lock(slot)
            // Only this writeback sets the flag (one runs at a time), so it is still ours if set.
            if table.testFlag(slot, .postProcessing) { table.clearFlag(slot, .postProcessing) }
            table.unlock(slot)
            counters.failedWrites.add(1, ordering: .relaxed)
            counters.writebackFailedWrites.add(1, ordering: .relaxed)
            // The failed write may have left part of a page there: punch it, then give it back.
            releaseBlock(block, tier: tier)
            block = -1
            return .writeFailed(error)
        }
        counters.bdWrites.add(1, ordering: .relaxed)
        tier.checksums?.record(UnsafeRawBufferPointer(page), for: block)

        // Commit only if nobody touched the slot: any read, write, free or recompression
        // replaced or cleared the flag word and with it ZRAM_PP_SLOT.
        table.lock(slot)
        guard table.testFlag(slot, .postProcessing) else {
            table.unlock(slot)
            counters.writebackCancelled.add(1, ordering: .relaxed)
            return .cancelled  // the block stays taken, for the next slot
        }
        let old = detachLocked(slot)
        table.setHandle(slot, UInt64(block))
        table.setWord(slot, ZramSlotFlags.writtenBack.rawValue)
        table.unlock(slot)
        stored.addElsewhere(1)
        counters.bdCount.add(1, ordering: .relaxed)
        release(old)
        block = -1
        if counters.writebackLimitEnabled.load(ordering: .relaxed) {
            takeFromWritebackLimit(unitsPerPage)
        }
        return .written
    }

    /// Subtracts `units` from writeback_limit, stopping at 0.
    func takeFromWritebackLimit(_ units: Int) {
        var left = counters.writebackLimit.load(ordering: .relaxed)
        while left > 0 {
            let (done, seen) = counters.writebackLimit.compareExchange(
                expected: left, desired: max(0, left - units), ordering: .relaxed)
            if done { return }
            left = seen
        }
    }

    /// Gives back a block a writeback took but did not use (it may hold a cancelled page).
    func releaseUnused(_ block: Int, tier: WritebackTier) {
        if block >= 0 { releaseBlock(block, tier: tier) }
    }

    /// Frees a file block nobody references any more: checksum forgotten, storage punched out
    /// of the file (a failed punch is counted, never thrown), block back to the allocator. Runs
    /// without any slot lock; the block is still allocated until the last step, so no writeback
    /// can be using it.
    func releaseBlock(_ block: Int, tier: WritebackTier) {
        tier.checksums?.clear(block)
        if tier.punchFreedBlocks {
            do { try tier.file.punchHole(at: block, count: 1) } catch {
                counters.failedPunches.add(1, ordering: .relaxed)
            }
        }
        tier.freeBlock(block)
    }

    /// read_from_bdev: reads written-back `slot`'s block into `buffer` and verifies its
    /// checksum (slot lock held, so the block cannot be freed and reused meanwhile). Counts
    /// bd_reads; on failure counts failed_reads and returns the error, freeing nothing.
    @inline(__always)
    func readWrittenBackLocked(_ slot: Int, into buffer: UnsafeMutableRawBufferPointer) -> PageStoreError? {
        guard let tier = writebackTier else {
            counters.failedReads.add(1, ordering: .relaxed)
            return .corrupt(slot: slot, reason: "marked written back but the device has no backing file")
        }
        let block = Int(table.handle(slot))
        counters.bdReads.add(1, ordering: .relaxed)
        do throws(PageStoreError) {
            try tier.file.readBlock(block, into: buffer)
            try tier.checksums?.verify(UnsafeRawBufferPointer(buffer), for: block, slot: slot)
        } catch {
            counters.failedReads.add(1, ordering: .relaxed)
            return error
        }
        return nil
    }

    // MARK: Automatic writeback

    /// Runs automatic writeback after a write when the pool is at or above the high watermark
    /// (no-op without a configuration). `stream` is the writer's codec stream, reused for
    /// decompression; the caller holds no slot lock.
    @inline(__always)
    func writeBackIfAboveHighWatermark(using stream: CodecStream) {
        guard let tier = writebackTier, let automatic = tier.automatic,
            pool.memUsedTotal >= automatic.highWatermark
        else { return }
        runAutomaticWriteback(tier: tier, automatic: automatic, stream: stream, wait: false)
    }

    /// One automatic round: idle slots from the clock hand on, until `mem_used_total` is below
    /// the low watermark or `batchSize` pages are written. When a full sweep finds no idle
    /// slot, the pool is first compacted if it holds more unused room than the gap between the
    /// watermarks (freed objects that did not free whole spans), then, if that was not enough,
    /// every slot is marked idle once and the sweep goes on. A round that ends above the low
    /// watermark with a fragmented pool compacts it too (once per round). With `wait` false a
    /// running writeback makes this return at once (counted as busy). Returns the pages written.
    @discardableResult
    func runAutomaticWriteback(
        tier: WritebackTier, automatic: ZramAutomaticWriteback, stream: CodecStream, wait: Bool
    ) -> Int {
        if wait {
            return tier.exclusive.withLock { scratch in
                tier.exclusiveOrder.withLock {
                    automaticRound(tier: tier, automatic: automatic, stream: stream, scratch: &scratch)
                }
            }
        }
        let written = tier.exclusive.withLockIfAvailable { scratch in
            tier.exclusiveOrder.withLock {
                automaticRound(tier: tier, automatic: automatic, stream: stream, scratch: &scratch)
            }
        }
        guard let written else {
            counters.automaticBusy.add(1, ordering: .relaxed)
            return 0
        }
        return written
    }

    /// Whether the pool holds more unused room (mem_used_total minus compr_data_size) than the
    /// gap between the watermarks: compaction could then bring it below the low watermark.
    @inline(__always)
    func isFragmented(_ automatic: ZramAutomaticWriteback) -> Bool {
        pool.memUsedTotal - stored.comprDataSize
            > max(automatic.highWatermark - automatic.lowWatermark, pageSize)
    }

    /// The body of ``runAutomaticWriteback(tier:automatic:stream:wait:)``; the caller holds
    /// `tier.exclusive`, whose `scratch` this uses.
    func automaticRound(
        tier: WritebackTier, automatic: ZramAutomaticWriteback, stream: CodecStream, scratch: inout WritebackTier.Scratch
    ) -> Int {
        let start = MonotonicClock.nanoseconds()
        let required = ZramSlotFlags.idle.rawValue
        var written = 0
        var swept = 0
        var marked = false
        var compacted = false
        var block = -1
        round: while written < automatic.batchSize && pool.memUsedTotal >= automatic.lowWatermark {
            var found = -1
            while swept < slotCount {
                let slot = scratch.hand
                scratch.hand = slot + 1 == slotCount ? 0 : slot + 1
                swept += 1
                if qualifiesForWriteback(table.word(slot), required: required) {
                    found = slot
                    break
                }
            }
            if found < 0 {
                // Out of idle slots. If the pool is fragmented (the pages written so far freed
                // objects but not whole spans), compacting may be enough: try that before
                // starting a new generation, which would expose recently used pages.
                if !compacted && isFragmented(automatic) {
                    compact()
                    counters.automaticCompactions.add(1, ordering: .relaxed)
                    compacted = true
                    swept = 0
                    continue
                }
                if marked { break }
                markIdle(.all)
                counters.automaticIdleMarkings.add(1, ordering: .relaxed)
                marked = true
                swept = 0
                continue
            }
            switch writeBackSlot(found, required: required, tier: tier, stream: stream, page: scratch.page, block: &block) {
            case .written: written += 1
            case .skipped, .cancelled: break
            case .writeFailed: break round
            case .fileFull:
                counters.automaticFileFull.add(1, ordering: .relaxed)
                break round
            case .limitReached:
                counters.automaticLimitStops.add(1, ordering: .relaxed)
                break round
            }
        }
        releaseUnused(block, tier: tier)
        if !compacted && written > 0 && pool.memUsedTotal >= automatic.lowWatermark && isFragmented(automatic) {
            compact()
            counters.automaticCompactions.add(1, ordering: .relaxed)
        }
        counters.automaticRounds.add(1, ordering: .relaxed)
        counters.automaticPages.add(written, ordering: .relaxed)
        counters.automaticNanoseconds.add(MonotonicClock.nanoseconds() - start, ordering: .relaxed)
        return written
    }
}
