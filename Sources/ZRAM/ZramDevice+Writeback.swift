#if canImport(Glibc)
import Glibc
#endif
import SystemSupport
import PageCodecs
import PageStore
import Synchronization
import ZsPool

/// A device's second tier: the `PageTier` written-back pages go to (a `PageFileTier` over the
/// backing file, or the tier the configuration gave), the batch writeback fills, and, for a tier
/// that may not be called from a signal handler, the writeback thread and its free queue.
///
/// **Memory and ownership.** Everything is made once with the device: the batch (its entries and
/// an arena of `batchSize` pages) and the victims array (the slot of each batch entry) inside
/// ``exclusive``, freed with it; the free queue (when there is a thread). The tier and the file
/// belong to the caller (a `PageFileTier` made here is the device's, the file under it is not).
///
/// **Thread safety.** The tier, queue and thread are safe to share (see their types); ``thread``
/// is set once by the device's `init`, before the device is shared. The batch, victims and the
/// automatic clock hand sit inside ``exclusive``: one writeback, manual or automatic, runs at a
/// time, so the post-processing flag on a slot (ZRAM_PP_SLOT) can only be set by the writeback
/// that holds it. A tier handle is owned either by a writeback in flight or by the written-back
/// slot that holds it.
final class WritebackTier: @unchecked Sendable {
    let tier: any PageTier
    /// The file tier made from ``ZramBackingDevice/file`` (for block numbers and invariants).
    let fileTier: PageFileTier?
    let automatic: ZramAutomaticWriteback?
    let exclusive: Mutex<Scratch>
    /// Taken inside ``exclusive``: ThreadSanitizer does not see `Mutex` on Linux and reported
    /// the scratch as racing between two writebacks; it sees this lock's atomics. Never
    /// contended (the mutex is already held).
    let exclusiveOrder = SpinLock()
    /// Frees waiting for the writeback thread (a tier that may not be called from a signal
    /// handler), or `nil`: frees then go to the tier at once.
    let frees: TierFreeQueue?
    /// The writeback thread, set once by the device's `init` when ``frees`` is set.
    var thread: TierWritebackThread?

    /// The batch a writeback fills, and the clock hand of automatic writeback.
    ///
    /// **Memory.** The batch's own allocations and `victims` (`batch.capacity` slots), made in
    /// `init`, freed in `deinit`, used only while ``WritebackTier/exclusive`` is held: that mutex
    /// is what makes the `@unchecked Sendable` safe. Entry `i` of the batch is slot `victims[i]`'s
    /// object.
    struct Scratch: ~Copyable, @unchecked Sendable {
        var batch: PageTierBatch
        let victims: UnsafeMutablePointer<Int>
        var hand = 0
        init(capacity: Int, pageSize: Int) {
            batch = PageTierBatch(capacity: capacity, maxObjectSize: pageSize)
            victims = .allocate(capacity: capacity)
            victims.initialize(repeating: -1, count: capacity)
        }
        deinit { victims.deallocate() }
    }

    init(_ backing: ZramBackingDevice, automatic: ZramAutomaticWriteback?, pageSize: Int) {
        if let file = backing.file {
            let made = PageFileTier(
                file: file, blockCount: backing.blockCount, checksums: backing.checksums,
                punchFreedBlocks: backing.punchFreedBlocks)
            fileTier = made
            tier = made
        } else {
            fileTier = nil
            tier = backing.tier!  // ZramBackingDevice.problem guarantees one of the two
        }
        self.automatic = automatic
        exclusive = Mutex(Scratch(capacity: backing.batchSize, pageSize: pageSize))
        frees = tier.isAsyncSignalSafe ? nil : TierFreeQueue(capacity: 65_536)
    }

    /// Frees `handle` in the tier: at once, or through the writeback thread's queue.
    /// Async-signal-safe either way.
    @inline(__always)
    func free(_ handle: UInt64) {
        let value = PageTierHandle(rawValue: handle)
        if let frees {
            frees.push(value)
        } else {
            withUnsafePointer(to: value) { tier.free(UnsafeBufferPointer(start: $0, count: 1)) }
        }
    }
}

/// What one batch did.
struct WritebackBatchOutcome {
    /// Slots that are WB now.
    var written = 0
    /// Objects the tier did not acknowledge (their slots stay in the pool).
    var refused = 0
    /// Of ``refused``: those the tier had no room for (nothing was written; the run stops).
    var noRoom = 0
    /// Of ``refused``: those whose write failed (failed_writes counts these).
    var failedWrites = 0
    /// Objects acknowledged for slots touched meanwhile (freed again in the tier).
    var cancelled = 0
    /// Why the tier refused some, or `nil`.
    var failure: PageTierError?

    /// Refusals that were not for lack of room: what `writebackFailed(failures:)` counts.
    var failures: Int { refused - noRoom }
    /// Whether the tier ran out of room in this batch (a later batch would be refused too).
    var tierFull: Bool {
        if case .full? = failure { return true }
        return noRoom > 0
    }
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

    /// Writes selected pages to the backing file (the tier) and frees their memory (zram's
    /// `writeback`).
    ///
    /// The chosen slots' compressed objects (a huge slot's raw page) are copied into a batch,
    /// each slot marked for post-processing under its lock; one write sends the batch to the
    /// tier without any slot lock; then, for each object the tier acknowledged, only if nobody
    /// read, wrote or freed the slot meanwhile, its pool object is freed and the slot becomes
    /// WB, holding the tier's handle. A slot touched meanwhile keeps its page in memory (its tier
    /// copy is freed again); an object the tier refused keeps its page in memory and the run goes
    /// on, as the kernel's does after a failed write, unless the tier had no room for some
    /// object of the batch: then the run stops after that batch (the rest of the batch was
    /// refused without a write, and counts in neither failed_writes nor `failures`).
    /// Same-filled, empty and written-back slots are skipped. One writeback runs at a time;
    /// this call waits for a running one.
    ///
    /// With the writeback limit enabled (``writebackLimitEnabled``), each page written takes
    /// its size in 4 KiB units off ``writebackLimit``; when less than one page is left the run
    /// stops.
    ///
    /// - Parameters:
    ///   - mode: which slots (`idle`, `huge`, `huge_idle`, `incompressible`, `page_index=`).
    ///   - maxPages: the most pages to write.
    /// - Returns: how many pages are now in the tier. Fewer than `maxPages` when fewer slots
    ///   qualified, or the limit or the file ran out after some were written.
    /// - Throws: ``ZramError/noBackingDevice``; ``ZramError/page(_:)`` with `slotOutOfRange`
    ///   for a bad `.slot`; ``ZramError/writebackLimitReached(limit:)`` or
    ///   ``ZramError/backingFileFull(blocks:)`` when nothing could be written for that reason;
    ///   ``ZramError/writebackFailed(written:failures:last:)`` when the tier refused any page
    ///   for another reason than a lack of room (a failed block write, a cluster that did not
    ///   acknowledge); `failures` counts those pages only.
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
        let required = mode.required
        let run = tier.exclusive.withLock { scratch -> WritebackRun in
            tier.exclusiveOrder.withLock { () -> WritebackRun in
                var run = WritebackRun()
                var next = range.lowerBound
                while run.written < maxPages && next < range.upperBound {
                    let room = min(scratch.batch.capacity, maxPages - run.written, limitBudget())
                    if room == 0 {
                        run.stoppedByLimit = true
                        break
                    }
                    scratch.batch.removeAll()
                    while next < range.upperBound && scratch.batch.count < room {
                        _ = collect(next, required: required, into: &scratch)
                        next += 1
                    }
                    guard scratch.batch.count > 0 else { break }
                    let outcome = writeBatch(&scratch, tier: tier)
                    run.written += outcome.written
                    if let failure = outcome.failure, outcome.failures > 0 {
                        // Failed writes (the batch's failure is the first one: the file tier
                        // reports an I/O error before running out of room, never after).
                        run.failures += outcome.failures
                        run.lastFailure = PageStoreError(tierError: failure, slot: -1)
                    }
                    if outcome.tierFull {
                        run.stoppedByFullFile = true
                        break
                    }
                }
                return run
            }
        }
        if let last = run.lastFailure {
            throw .writebackFailed(written: run.written, failures: run.failures, last: last)
        }
        if run.written == 0 && run.stoppedByLimit {
            throw .writebackLimitReached(limit: counters.writebackLimit.load(ordering: .relaxed))
        }
        if run.written == 0 && run.stoppedByFullFile { throw .backingFileFull(blocks: tier.fileTier?.blockCount ?? 0) }
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

    /// Whether the device has a backing file or tier (``ZramConfiguration/backingDevice``).
    public var hasBackingDevice: Bool { writebackTier != nil }

    /// Whether reading `slot` now means reading the second tier (it is written back): a hint
    /// read without the slot's lock, for the swap layer's I/O threads.
    public func readNeedsIO(at slot: Int) -> Bool {
        guard slot >= 0 && slot < slotCount else { return false }
        return table.word(slot) & ZramSlotFlags.writtenBack.rawValue != 0
    }

    /// Whether reads of written-back slots may run in a signal handler: false when the tier may
    /// not be called from one (a cluster, an encrypting tier), so a SIGBUS-mode swap region
    /// reads this device's pages on its I/O threads.
    public var ioReadsAreSignalSafe: Bool { writebackTier?.tier.isAsyncSignalSafe ?? true }

    /// The file block holding `slot`'s page, or `nil` when the slot is not written back or the
    /// device writes back to a tier that is not its own file.
    public func writtenBackBlock(of slot: Int) throws(PageStoreError) -> Int? {
        guard writebackTier?.fileTier != nil, let handle = try writtenBackHandle(of: slot) else { return nil }
        return Int(handle.rawValue) - 1
    }

    /// The tier handle holding `slot`'s page, or `nil` when the slot is not written back.
    public func writtenBackHandle(of slot: Int) throws(PageStoreError) -> PageTierHandle? {
        try check(slot)
        table.lock(slot)
        defer { table.unlock(slot) }
        guard table.testFlag(slot, .writtenBack) else { return nil }
        return PageTierHandle(rawValue: table.handle(slot))
    }

    /// The second tier's counters (objects stored, acknowledged, refused, read, freed), or
    /// `nil` without a backing device.
    public var tierStatistics: PageTierStatistics? { writebackTier?.tier.tierStatistics }

    /// Stops the device's writeback thread (a tier that may not be called from a signal
    /// handler) and frees what it had queued, so the tier can be closed; automatic writeback
    /// stops with it. Without a thread it does nothing. Call it when the device is done, before
    /// closing the tier.
    public func stopTierWriteback() {
        writebackTier?.thread?.stop()
    }

    /// Failures, cancellations and the cost of automatic writeback.
    public var writebackStatistics: ZramWritebackStatistics {
        var s = ZramWritebackStatistics()
        s.failedWrites = counters.writebackFailedWrites.load(ordering: .relaxed)
        s.cancelled = counters.writebackCancelled.load(ordering: .relaxed)
        s.refusedPages = counters.writebackRefused.load(ordering: .relaxed)
        s.storesAboveHighWatermark = counters.storesAboveHighWatermark.load(ordering: .relaxed)
        s.pendingTierFrees = writebackTier?.frees?.count ?? 0
        s.failedPunches = (writebackTier?.fileTier?.failedPunchCount ?? 0) - counters.failedPunchesAtReset.load(ordering: .relaxed)
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

    // MARK: One batch

    /// Whether a slot word qualifies for writeback: a pool object (not same-filled, not
    /// written back, not already being post-processed) carrying every flag in `required`.
    @inline(__always)
    func qualifiesForWriteback(_ word: UInt32, required: UInt32) -> Bool {
        let excluded = ZramSlotFlags.same.rawValue | ZramSlotFlags.writtenBack.rawValue
            | ZramSlotFlags.postProcessing.rawValue
        return word & ZramSlotFlags.sizeMask != 0 && word & excluded == 0 && word & required == required
    }

    /// How many more pages the writeback limit lets through (`Int.max` when it is off).
    @inline(__always)
    func limitBudget() -> Int {
        guard counters.writebackLimitEnabled.load(ordering: .relaxed) else { return .max }
        return counters.writebackLimit.load(ordering: .relaxed) / unitsPerPage
    }

    /// Copies `slot`'s object into the batch and claims the slot (ZRAM_PP_SLOT) if it qualifies
    /// (the caller holds `tier.exclusive`, whose scratch this fills, and the batch has room).
    /// Returns whether it did.
    func collect(_ slot: Int, required: UInt32, into scratch: inout WritebackTier.Scratch) -> Bool {
        guard qualifiesForWriteback(table.word(slot), required: required) else { return false }
        table.lock(slot)
        let word = table.word(slot)
        guard qualifiesForWriteback(word, required: required) else {
            table.unlock(slot)
            return false
        }
        let size = Int(word & ZramSlotFlags.sizeMask)
        let object = pool.bytes(
            of: ZsHandle(rawValue: table.handle(slot)), inClass: pool.classes.classIndex(forSize: size), count: size)
        let index: Int
        do { index = try scratch.batch.append(object) } catch {
            // Cannot happen: the caller leaves room, and an object is at most a page.
            table.unlock(slot)
            return false
        }
        scratch.victims[index] = slot
        table.setFlag(slot, .postProcessing)
        table.unlock(slot)
        return true
    }

    /// Sends the batch to the tier (no slot lock held) and commits each object: acknowledged and
    /// still claimed, the slot becomes WB with the handle and its pool object is freed;
    /// acknowledged but touched meanwhile, the tier's copy is freed; refused, the slot keeps its
    /// page (its claim dropped). The caller holds `tier.exclusive`.
    func writeBatch(_ scratch: inout WritebackTier.Scratch, tier: WritebackTier) -> WritebackBatchOutcome {
        var outcome = WritebackBatchOutcome()
        do throws(PageTierError) { try tier.tier.write(&scratch.batch) } catch {
            scratch.batch.resetResults()
            scratch.batch.failure = error
        }
        outcome.failure = scratch.batch.failure
        var acknowledged = 0
        for i in 0..<scratch.batch.count {
            let slot = scratch.victims[i]
            let handle = scratch.batch.handle(at: i)
            if handle != nil { acknowledged += 1 }
            table.lock(slot)
            // Any read, write, free or recompression replaced or cleared the flag word, and
            // with it ZRAM_PP_SLOT; only this writeback sets the flag (one runs at a time).
            guard table.testFlag(slot, .postProcessing) else {
                table.unlock(slot)
                if let handle {
                    outcome.cancelled += 1
                    tier.free(handle.rawValue)
                }
                continue
            }
            guard let handle else {
                table.clearFlag(slot, .postProcessing)
                table.unlock(slot)
                outcome.refused += 1
                // A tier that does not say why (an encrypting tier over a file) is taken at its
                // batch's failure, as before the tiers gave a reason per object.
                switch scratch.batch.refusalCountedAs(at: i) {
                case .writeFailed?: outcome.failedWrites += 1
                case .noRoom?: outcome.noRoom += 1
                case .notSaid?, nil: break
                }
                continue
            }
            let priority = table.word(slot) & (ZramSlotFlags.priorityBit1.rawValue | ZramSlotFlags.priorityBit2.rawValue)
            let old = detachLocked(slot)
            table.setHandle(slot, handle.rawValue)
            table.setWord(slot, ZramSlotFlags.writtenBack.rawValue | priority)
            table.unlock(slot)
            stored.addElsewhere(1)
            counters.bdCount.add(1, ordering: .relaxed)
            release(old)
            outcome.written += 1
        }
        counters.bdWrites.add(acknowledged, ordering: .relaxed)
        if outcome.cancelled > 0 { counters.writebackCancelled.add(outcome.cancelled, ordering: .relaxed) }
        if outcome.refused > 0 {
            // Only writes that were made and failed are failed writes: an object the tier had
            // no room for (the file filled up after a failed write in the same batch) was never
            // written.
            counters.writebackRefused.add(outcome.refused, ordering: .relaxed)
            if outcome.failedWrites > 0 {
                counters.failedWrites.add(outcome.failedWrites, ordering: .relaxed)
                counters.writebackFailedWrites.add(outcome.failedWrites, ordering: .relaxed)
            }
        }
        if counters.writebackLimitEnabled.load(ordering: .relaxed) && outcome.written > 0 {
            takeFromWritebackLimit(outcome.written * unitsPerPage)
        }
        scratch.batch.removeAll()
        return outcome
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

    /// read_from_bdev: reads written-back `slot`'s object from the tier into `buffer` (one
    /// page) and, unless it is a raw page, decompresses it there with `stream` (slot lock held,
    /// so the handle cannot be freed meanwhile). Counts bd_reads; on failure counts failed_reads
    /// and returns the error, freeing nothing.
    @inline(__always)
    func readWrittenBackLocked(
        _ slot: Int, word: UInt32, into buffer: UnsafeMutableRawBufferPointer, using stream: CodecStream
    ) -> PageStoreError? {
        guard let tier = writebackTier else {
            counters.failedReads.add(1, ordering: .relaxed)
            return .corrupt(slot: slot, reason: "marked written back but the device has no backing device")
        }
        counters.bdReads.add(1, ordering: .relaxed)
        let length: Int
        do throws(PageTierError) {
            length = try tier.tier.read(PageTierHandle(rawValue: table.handle(slot)), into: buffer)
        } catch {
            counters.failedReads.add(1, ordering: .relaxed)
            return PageStoreError(tierError: error, slot: slot)
        }
        guard length < pageSize else { return nil }  // a raw page: already in place
        // A compressed object: move it out of the way, then decompress into the page.
        let object = UnsafeMutableRawBufferPointer(rebasing: stream.scratch[0..<length])
        object.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
        do throws(CodecError) {
            try stream.decode(
                UnsafeRawBufferPointer(object), isRaw: false,
                priority: Int((word >> ZramSlotFlags.priorityShift) & 3), into: buffer)
        } catch {
            counters.failedReads.add(1, ordering: .relaxed)
            return .corrupt(slot: slot, reason: "the object read back from the tier does not decompress: \(error.description)")
        }
        return nil
    }

    // MARK: Automatic writeback

    /// Runs automatic writeback after a write when the pool is at or above the high watermark
    /// (no-op without a configuration). With a writeback thread the write only counts that the
    /// pool is above it: the thread writes back. The caller holds no slot lock.
    @inline(__always)
    func writeBackIfAboveHighWatermark() {
        guard let tier = writebackTier, let automatic = tier.automatic,
            pool.memUsedTotal >= automatic.highWatermark
        else { return }
        if tier.thread != nil {
            counters.storesAboveHighWatermark.add(1, ordering: .relaxed)
            return
        }
        runAutomaticWriteback(tier: tier, automatic: automatic, wait: false)
    }

    /// One automatic round on the writing thread (a tier safe in a signal handler): idle slots
    /// from the clock hand on, until `mem_used_total` is below the low watermark or `batchSize`
    /// pages are written. When a full sweep finds no idle slot, the pool is first compacted if
    /// it holds more unused room than the gap between the watermarks (freed objects that did not
    /// free whole spans), then, if that was not enough, every slot is marked idle once and the
    /// sweep goes on. A round that ends above the low watermark with a fragmented pool compacts
    /// it too (once per round). With `wait` false a running writeback makes this return at once
    /// (counted as busy). Returns the pages written.
    @discardableResult
    func runAutomaticWriteback(tier: WritebackTier, automatic: ZramAutomaticWriteback, wait: Bool) -> Int {
        if wait {
            return tier.exclusive.withLock { scratch in
                tier.exclusiveOrder.withLock {
                    automaticRound(tier: tier, automatic: automatic, maxPages: automatic.batchSize, scratch: &scratch).written
                }
            }
        }
        let written = tier.exclusive.withLockIfAvailable { scratch in
            tier.exclusiveOrder.withLock {
                automaticRound(tier: tier, automatic: automatic, maxPages: automatic.batchSize, scratch: &scratch).written
            }
        }
        guard let written else {
            counters.automaticBusy.add(1, ordering: .relaxed)
            return 0
        }
        return written
    }

    /// One round of the writeback thread (a tier that may not be called from a signal handler):
    /// when the pool is at or above the high watermark, automatic rounds until it is below the
    /// low one (or eight batches, so that frees and manual writeback get their turn).
    func threadRound() -> TierWritebackThread.Outcome {
        guard let tier = writebackTier, let automatic = tier.automatic,
            pool.memUsedTotal >= automatic.highWatermark
        else { return .idle }
        let round = tier.exclusive.withLock { scratch in
            tier.exclusiveOrder.withLock {
                automaticRound(tier: tier, automatic: automatic, maxPages: 8 * scratch.batch.capacity, scratch: &scratch)
            }
        }
        if round.written > 0 { return .wrote }
        return round.refused ? .refused : .idle
    }

    /// Whether the pool holds more unused room (mem_used_total minus compr_data_size) than the
    /// gap between the watermarks: compaction could then bring it below the low watermark.
    @inline(__always)
    func isFragmented(_ automatic: ZramAutomaticWriteback) -> Bool {
        pool.memUsedTotal - stored.comprDataSize
            > max(automatic.highWatermark - automatic.lowWatermark, pageSize)
    }

    /// The body of an automatic round (see ``runAutomaticWriteback(tier:automatic:wait:)``),
    /// at most `maxPages` pages; the caller holds `tier.exclusive`, whose `scratch` this uses.
    /// Returns the pages written and whether the tier refused a batch outright.
    func automaticRound(
        tier: WritebackTier, automatic: ZramAutomaticWriteback, maxPages: Int, scratch: inout WritebackTier.Scratch
    ) -> (written: Int, refused: Bool) {
        let start = MonotonicClock.nanoseconds()
        let required = ZramSlotFlags.idle.rawValue
        var written = 0
        var refused = false
        var swept = 0
        var marked = false
        var compacted = false
        round: while written < maxPages && pool.memUsedTotal >= automatic.lowWatermark {
            let room = min(scratch.batch.capacity, maxPages - written, limitBudget())
            if room == 0 {
                counters.automaticLimitStops.add(1, ordering: .relaxed)
                break
            }
            scratch.batch.removeAll()
            while scratch.batch.count < room && swept < slotCount {
                let slot = scratch.hand
                scratch.hand = slot + 1 == slotCount ? 0 : slot + 1
                swept += 1
                _ = collect(slot, required: required, into: &scratch)
            }
            if scratch.batch.count == 0 {
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
            let outcome = writeBatch(&scratch, tier: tier)
            written += outcome.written
            if outcome.failure != nil {
                if outcome.tierFull { counters.automaticFileFull.add(1, ordering: .relaxed) }
                refused = outcome.written == 0
                break round
            }
        }
        if !compacted && written > 0 && pool.memUsedTotal >= automatic.lowWatermark && isFragmented(automatic) {
            compact()
            counters.automaticCompactions.add(1, ordering: .relaxed)
        }
        counters.automaticRounds.add(1, ordering: .relaxed)
        counters.automaticPages.add(written, ordering: .relaxed)
        counters.automaticNanoseconds.add(MonotonicClock.nanoseconds() - start, ordering: .relaxed)
        return (written, refused)
    }
}
