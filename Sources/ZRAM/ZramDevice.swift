import SystemSupport
import PageCodecs
import PageStore
import Synchronization
import ZsPool

/// An in-process compressed RAM device with the kernel zram's semantics.
///
/// A device has a fixed number of page slots (`disksize / pageSize`). Each slot is empty,
/// same-filled (one repeated word, kept in the slot table: no pool memory), compressed (an
/// object in the device's size-class pool), huge (stored raw, when compression does not get
/// below ``hugeClassSize``) or written back (WB: the page is in a block of the backing file,
/// ``ZramConfiguration/backingDevice``, and costs no pool memory). Pages go in and out by slot
/// (``writePage(_:at:)``, ``readPage(at:into:)``) or by 512-byte sectors (``write(_:at:)``,
/// ``read(into:at:)``), so the device can also serve as a block image.
///
/// ```swift
/// let device = try ZramDevice(ZramConfiguration(disksize: 64 << 20))
/// try device.writePage(page, at: 7)
/// try device.readPage(at: 7, into: buffer)
/// print(device.mmStat.line, terminator: "")
/// ```
///
/// **Writeback** (zram's `backing_dev`, `idle`, `writeback`, `writeback_limit`, `bd_stat`):
///
/// ```swift
/// let file = try BackingFile.temporary(in: "/var/tmp", blockCount: 16_384)   // 64 MiB
/// var configuration = ZramConfiguration(disksize: 256 << 20)
/// configuration.backingDevice = ZramBackingDevice(file: file, blockCount: 16_384, checksums: true)
/// let device = try ZramDevice(configuration)
/// // ... store pages ...
/// device.markIdle(.all)                        // echo all > idle
/// // ... the pages still in use get read or written, which clears their IDLE mark ...
/// let moved = try device.writeback(.idle)      // echo idle > writeback
/// try device.readPage(at: 7, into: buffer)     // a WB slot is read from the file
/// print(device.bdStat.line, terminator: "")    // bd_count bd_reads bd_writes (4 KiB units)
/// ```
///
/// For swap use, ``ZramConfiguration/automaticWriteback`` makes writes that take the pool over
/// a high watermark write idle pages back until it is below a low one
/// (``ZramAutomaticWriteback``). Freeing a WB slot (discard, notify, overwrite, reset) frees
/// its tier copy (a file block is punched). Writeback moves compressed objects, so a WB read is
/// one tier read and a decompression. The backing device may be any `PageTier` instead of a
/// file (``ZramBackingDevice/init(tier:batchSize:)``): a tier that may not be called from a
/// signal handler gets a writeback thread of the device's own (``stopTierWriteback()``). A failed or corrupt file read frees nothing, counts `failed_reads`
/// and throws; a retry can succeed.
///
/// **Memory and ownership.** The device owns its slot table (16 bytes per slot, one buffer,
/// ``slotTableBytes``), its pool (a `ZsPool`: one reserved address range, spans returned to
/// the system when they empty; ``poolStatistics``) and its codec streams (`CodecStreams`, two
/// per core, made once). All of it lives as long as the device; the store and load paths
/// allocate nothing.
///
/// **Thread safety.** `@unchecked Sendable` because every shared field is guarded: a slot's
/// entry by the lock bit in its own word (compare-and-swap, as the kernel's ZRAM_LOCK), pool
/// classes by a spin lock each (`SpinLock`), codec streams by an atomic busy flag each, counters are atomics.
/// Operations on different slots run in parallel; operations on one slot are serialized.
/// Compression runs before the slot lock is taken, so a slot is locked only to swap handles.
/// A read of a WB slot holds the slot's lock during the file read (the block cannot be freed
/// and reused under it); writeback drops the slot's lock while it writes the block and commits
/// only if the slot was not touched meanwhile. One writeback runs at a time (a mutex around
/// its scratch page, taken with no slot lock held and after the codec stream), so it cannot
/// deadlock with slot locks, the pool's locks or the streams.
public final class ZramDevice: SwapBackend, @unchecked Sendable {
    /// The configuration the device was made with.
    public let configuration: ZramConfiguration
    /// The page size in bytes.
    public let pageSize: Int
    /// The number of page slots: disksize / pageSize.
    public let slotCount: Int
    /// The kernel's huge_class_size for this page size: a page whose compressed size reaches it
    /// is stored raw (3632 on 4 KiB pages).
    public let hugeClassSize: Int
    /// zram frees a copy on a swap slot free notification.
    public var freesOnNotify: Bool { true }

    let table: SlotTable
    let pool: ZsPool
    let streams: CodecStreams
    /// pages_stored, compr_data_size, same_pages, huge_pages, huge_pages_since.
    let stored = StoredPageCounters()
    let counters = ZramCounters()
    /// notify_free and miss_free.
    let notifications = SlotFreeNotifyCounters()
    let epoch: Int
    /// The file tier, when the configuration has a backing device.
    let writebackTier: WritebackTier?
    /// bd_stat's 4 KiB units per page.
    let unitsPerPage: Int

    /// Makes a device, allocating its slot table, streams and pool reservation.
    ///
    /// - Throws: ``ZramError/invalidConfiguration(_:)`` for a bad size, page size or limit;
    ///   ``ZramError/codecUnavailable(codec:reason:)`` when a codec cannot be set up;
    ///   ``ZramError/outOfAddressSpace(bytes:)`` when the pool's range cannot be reserved.
    public convenience init(_ configuration: ZramConfiguration) throws(ZramError) {
        let primary = configuration.codec
        if let secondary = configuration.secondaryCodec {
            try self.init(
                configuration,
                makeCodec: { () throws(CodecError) -> any PageCodec in try primary.makeStream() },
                makeSecondaryCodec: { () throws(CodecError) -> any PageCodec in try secondary.makeStream() })
        } else {
            try self.init(configuration, makeCodec: { () throws(CodecError) -> any PageCodec in try primary.makeStream() })
        }
    }

    /// Makes a device whose streams use codecs you make: for measuring another implementation
    /// of a codec (e.g. `LibLZ4`) inside the same device, or a test codec. `configuration.codec`
    /// and `.secondaryCodec` then only name them; a secondary maker enables recompression.
    ///
    /// Each maker is called once per stream (two per core), never on the store path.
    /// - Throws: as ``init(_:)``.
    public init(
        _ configuration: ZramConfiguration,
        makeCodec: () throws(CodecError) -> any PageCodec,
        makeSecondaryCodec: (() throws(CodecError) -> any PageCodec)? = nil
    ) throws(ZramError) {
        if let problem = configuration.problem { throw .invalidConfiguration(problem) }
        var configuration = configuration
        let page = configuration.pageSize
        if configuration.memLimit % page != 0 { configuration.memLimit += page - configuration.memLimit % page }
        pageSize = page
        slotCount = configuration.disksize / page
        if makeSecondaryCodec != nil && configuration.secondaryCodec == nil {
            configuration.secondaryCodec = configuration.codec
        }
        self.configuration = configuration
        let primaryName = configuration.codec.description
        let secondaryName = configuration.secondaryCodec?.description ?? "secondary"
        streams = try CodecStreams(
            pageSize: page,
            makePrimary: { () throws(ZramError) -> any PageCodec in
                do throws(CodecError) { return try makeCodec() } catch {
                    throw .codecUnavailable(codec: primaryName, reason: error.description)
                }
            },
            makeSecondary: makeSecondaryCodec.map(Self.naming(secondaryName)))
        table = SlotTable(count: slotCount)
        // At most one object per slot, plus one in flight per stream (written before the old
        // one is freed).
        do {
            pool = try ZsPool(pageSize: page, holding: slotCount + streams.count, memoryLimit: configuration.memLimit)
        } catch {
            switch error {
            case .outOfAddressSpace(let bytes): throw .outOfAddressSpace(bytes: bytes)
            case .invalidConfiguration(let message): throw .invalidConfiguration(message)
            }
        }
        hugeClassSize = pool.classes.hugeClassSize
        epoch = MonotonicClock.wholeSeconds()
        unitsPerPage = max(1, page / 4096)
        if let backing = configuration.backingDevice {
            writebackTier = WritebackTier(backing, automatic: configuration.automaticWriteback, pageSize: page)
        } else {
            writebackTier = nil
        }
        if let tier = writebackTier, tier.frees != nil {
            // A tier that may not be called from a signal handler: writeback and frees run on a
            // thread of the device's own, which holds the device only during a round.
            do {
                tier.thread = try TierWritebackThread(tier: tier.tier, frees: tier.frees!) { [weak self] in
                    guard let self else { return .gone }
                    return self.threadRound()
                }
            } catch {
                throw .invalidConfiguration("the writeback thread for the tier could not be started (\(error)): the system is out of threads")
            }
        }
    }

    deinit {
        writebackTier?.thread?.requestStop()
    }

    /// `make`, whose failure becomes ``ZramError/codecUnavailable(codec:reason:)`` naming `name`.
    private static func naming(
        _ name: String
    ) -> (@escaping () throws(CodecError) -> any PageCodec) -> () throws(ZramError) -> any PageCodec {
        { make in
            { () throws(ZramError) -> any PageCodec in
                do throws(CodecError) { return try make() } catch {
                    throw .codecUnavailable(codec: name, reason: error.description)
                }
            }
        }
    }

    /// Memory of the slot table (16 bytes per slot), reported on its own, not in mem_used_total.
    public var slotTableBytes: Int { table.bytes }

    /// Memory of the pool's span descriptors, reported on its own, not in mem_used_total.
    public var poolMetadataBytes: Int { pool.metadataBytes }

    /// What the kernel's zram would hold from the system for the same stored objects: every live
    /// span counted whole, as zsmalloc allocates a zspage's pages all at once. This device
    /// commits a span's pages only as objects reach them, so its own `mem_used_total`
    /// (``mmStat``) is lower; use this figure to predict the kernel's.
    public var zsmallocEquivalentBytes: Int { pool.zsmallocEquivalentBytes }

    /// The pool's own figures: objects, spans, mem_used_total and its high-water mark,
    /// compaction, the zsmalloc equivalent.
    public var poolStatistics: ZsPoolStatistics { pool.statistics }

    @inline(__always)
    var now: UInt32 { UInt32(truncatingIfNeeded: MonotonicClock.wholeSeconds() - epoch) }

    @inline(__always)
    func check(_ slot: Int) throws(PageStoreError) {
        guard slot >= 0 && slot < slotCount else { throw .slotOutOfRange(slot: slot, slotCount: slotCount) }
    }

    // MARK: SwapBackend

    /// Stores one page at `slot`, replacing its old contents only on success.
    ///
    /// A same-filled page costs no pool memory; a page that does not compress below
    /// ``hugeClassSize`` is stored raw. A written-back old page's block is freed and punched.
    ///
    /// With ``ZramConfiguration/automaticWriteback``, a write that leaves `mem_used_total` at
    /// or above the high watermark then writes idle pages back (see
    /// ``ZramAutomaticWriteback``), and a write refused by `mem_limit` waits for a writeback
    /// round and tries once more.
    /// - Throws: `PageStoreError.slotOutOfRange`,
    ///   `PageStoreError.wrongPageSize`, or
    ///   `PageStoreError.memoryLimitExceeded` (the slot keeps its old page).
    public func writePage(_ page: UnsafeRawBufferPointer, at slot: Int) throws(PageStoreError) {
        try check(slot)
        guard page.count == pageSize else { throw .wrongPageSize(expected: pageSize, actual: page.count) }
        let index = streams.acquire()
        defer { streams.release(index) }
        let stream = streams.stream(index)
        if let tier = writebackTier, let automatic = tier.automatic {
            do throws(PageStoreError) {
                try store(page, at: slot, using: stream, countingFailure: tier.thread != nil)
            } catch {
                // With a writeback thread the write never waits for the tier: mem_limit holds.
                guard case .memoryLimitExceeded = error, tier.thread == nil else { throw error }
                runAutomaticWriteback(tier: tier, automatic: automatic, wait: true)
                try store(page, at: slot, using: stream)
            }
            writeBackIfAboveHighWatermark()
        } else {
            try store(page, at: slot, using: stream)
        }
    }

    /// Reads the page at `slot` into `buffer`. Never frees; marks the slot accessed (not idle,
    /// and a writeback in flight for it keeps the page in memory). A written-back page is read
    /// from the backing file (and its checksum verified) under the slot's lock.
    ///
    /// - Throws: `PageStoreError.emptySlot` for a slot that holds nothing,
    ///   `PageStoreError.corrupt` when the object fails to decompress or a
    ///   written-back page fails its checksum, `PageStoreError.io` when the file read fails.
    ///   A failed read frees nothing and counts `failed_reads`; a retry may succeed.
    public func readPage(at slot: Int, into buffer: UnsafeMutableRawBufferPointer) throws(PageStoreError) {
        try check(slot)
        guard buffer.count == pageSize else { throw .wrongPageSize(expected: pageSize, actual: buffer.count) }
        let index = streams.acquire()
        defer { streams.release(index) }
        try load(slot, into: buffer, using: streams.stream(index), emptyIsError: true)
    }

    /// zram_slot_free_notify: counts `notify_free`; frees the copy unless another operation holds
    /// the slot, in which case it counts `miss_free` and keeps the copy.
    public func slotFreeNotify(_ slot: Int) {
        guard slot >= 0 && slot < slotCount, notifications.notify(takingLock: { table.tryLock(slot) }) else { return }
        let old = detachLocked(slot)
        table.unlock(slot)
        release(old)
    }

    /// Frees whatever `slot` holds (a discard of its page). Out-of-range slots are ignored.
    public func discard(_ slot: Int) {
        guard slot >= 0 && slot < slotCount else { return }
        table.lock(slot)
        let old = detachLocked(slot)
        table.unlock(slot)
        release(old)
    }

    /// The counters in the shared vocabulary.
    public var statistics: BackendStatistics {
        var s = BackendStatistics()
        let mm = mmStat
        let io = ioStat
        s.storedPages = stored.pagesStored
        s.origDataSize = mm.origDataSize
        s.comprDataSize = mm.comprDataSize
        s.memUsedTotal = mm.memUsedTotal
        s.memUsedMax = mm.memUsedMax
        s.samePages = mm.samePages
        s.hugePages = mm.hugePages
        s.failedReads = io.failedReads
        s.failedWrites = io.failedWrites
        s.notifyFree = io.notifyFree
        s.missFree = notifications.missFree
        s.writtenBack = counters.bdWrites.load(ordering: .relaxed)
        s.fileReads = counters.bdReads.load(ordering: .relaxed)
        return s
    }

    // MARK: Stats

    /// mm_stat, with the kernel's definitions (see ``ZramMMStat``).
    public var mmStat: ZramMMStat { stored.mmStat(pool: pool, pageSize: pageSize) }

    /// io_stat.
    public var ioStat: ZramIOStat {
        ZramIOStat(
            failedReads: counters.failedReads.load(ordering: .relaxed),
            failedWrites: counters.failedWrites.load(ordering: .relaxed),
            notifyFree: notifications.notifyFree)
    }

    /// bd_stat, in 4 KiB units: pages now in the backing file, pages read from it, pages
    /// written to it. All zero without a backing file.
    public var bdStat: ZramBDStat {
        ZramBDStat(
            count: counters.bdCount.load(ordering: .relaxed) * unitsPerPage,
            reads: counters.bdReads.load(ordering: .relaxed) * unitsPerPage,
            writes: counters.bdWrites.load(ordering: .relaxed) * unitsPerPage)
    }

    /// debug_stat.
    public var debugStat: ZramDebugStat { ZramDebugStat(missFree: notifications.missFree) }

    /// Sets mem_used_max to the current mem_used_total (writing 0 to mem_used_max).
    public func resetMemUsedMax() { pool.resetMemUsedMax() }

    /// Frees every slot and zeroes every counter, as writing 1 to `reset` does: written-back
    /// blocks are freed and punched, bd_stat restarts, the writeback limit is disabled and set
    /// to 0. Safe to call while other threads use the device, though their pages then vanish too.
    public func reset() {
        for slot in 0..<slotCount {
            table.lock(slot)
            let old = detachLocked(slot)
            table.setAccessTime(slot, 0)
            table.unlock(slot)
            release(old)
        }
        counters.reset()
        // The file tier counts failed punches for its whole life; the device's count restarts
        // here (the punches of the frees above included, as every other counter's events).
        counters.failedPunchesAtReset.store(writebackTier?.fileTier?.failedPunchCount ?? 0, ordering: .relaxed)
        notifications.reset()
        stored.reset()
        pool.resetStatistics()
    }

    /// The flags of `slot` right now (`.lock` shows an operation in progress).
    public func slotFlags(_ slot: Int) throws(PageStoreError) -> ZramSlotFlags {
        try check(slot)
        table.lock(slot)
        let word = table.word(slot) & ~ZramSlotFlags.lock.rawValue
        table.unlock(slot)
        return ZramSlotFlags(rawValue: word & ZramSlotFlags.allFlags)
    }

    /// The stored object size of `slot`: 0 when empty or same-filled, the page size when huge.
    public func objectSize(_ slot: Int) throws(PageStoreError) -> Int {
        try check(slot)
        table.lock(slot)
        let size = table.size(slot)
        table.unlock(slot)
        return size
    }

    // MARK: Store and load

    /// What a slot held before it was cleared: a pool object (or, with `classIndex` -1, a
    /// backing-file block in `handle`'s raw value) to free after the slot unlocks.
    struct Detached {
        var handle: ZsHandle
        var classIndex: Int
    }

    /// zram_free_page: empties `slot` (lock held), fixes the counters, and returns the pool
    /// object to free once the lock is dropped.
    @inline(__always)
    func detachLocked(_ slot: Int) -> Detached? {
        let word = table.word(slot)
        guard word & ~ZramSlotFlags.lock.rawValue != 0 else { return nil }
        table.setWord(slot, 0)
        let handle = table.handle(slot)
        table.setHandle(slot, 0)
        if word & ZramSlotFlags.same.rawValue != 0 {
            stored.removeSameFilled()
            return nil
        }
        if word & ZramSlotFlags.writtenBack.rawValue != 0 {
            stored.addElsewhere(-1)
            counters.bdCount.subtract(1, ordering: .relaxed)
            return Detached(handle: ZsHandle(rawValue: handle), classIndex: -1)
        }
        let size = Int(word & ZramSlotFlags.sizeMask)
        guard size != 0 else { return nil }
        stored.removeObject(size: size, huge: word & ZramSlotFlags.huge.rawValue != 0)
        return Detached(handle: ZsHandle(rawValue: handle), classIndex: pool.classes.classIndex(forSize: size))
    }

    /// Frees a detached object or file block (no slot lock held).
    @inline(__always)
    func release(_ old: Detached?) {
        guard let old else { return }
        if old.classIndex >= 0 {
            pool.free(old.handle, inClass: old.classIndex)
        } else if let tier = writebackTier {
            tier.free(old.handle.rawValue)
        }
    }

    /// zram_write_page: same-filled check, compress into the stream's scratch, allocate, copy,
    /// then lock the slot only to swap the new object in; the old one is freed afterwards.
    /// `countingFailure` false leaves a refused allocation out of failed_writes (the caller
    /// retries after writeback and counts the retry).
    func store(
        _ page: UnsafeRawBufferPointer, at slot: Int, using stream: CodecStream, countingFailure: Bool = true
    ) throws(PageStoreError) {
        let time = now
        if let word = SameFilled.word(of: page) {
            table.lock(slot)
            let old = detachLocked(slot)
            table.setHandle(slot, word)
            table.setWord(slot, ZramSlotFlags.same.rawValue)
            table.setAccessTime(slot, time)
            table.unlock(slot)
            stored.addSameFilled()
            release(old)
            return
        }
        let (bytes, huge) = stream.compress(page, hugeThreshold: hugeClassSize)
        let size = bytes.count
        let classIndex = pool.classes.classIndex(forSize: size)
        guard let handle = pool.allocate(inClass: classIndex) else {
            if countingFailure { counters.failedWrites.add(1, ordering: .relaxed) }
            throw .memoryLimitExceeded(
                limit: configuration.memLimit, needed: pool.memUsedTotal + pageSize)
        }
        pool.write(bytes, to: handle, inClass: classIndex)
        table.lock(slot)
        let old = detachLocked(slot)
        table.setHandle(slot, handle.rawValue)
        table.setWord(slot, UInt32(size) | (huge ? ZramSlotFlags.huge.rawValue : 0))
        table.setAccessTime(slot, time)
        table.unlock(slot)
        stored.addObject(size: size, huge: huge)
        release(old)
    }

    /// zram_read_page: under the slot lock, fill, copy, decompress or read from the backing
    /// file into `buffer` (one page), then mark the slot accessed: IDLE and PP_SLOT cleared (a
    /// writeback in flight then keeps the page in memory), access time set. An empty slot
    /// throws, or reads as zeros when `emptyIsError` is false (block semantics). A failed read
    /// changes nothing but failed_reads.
    func load(
        _ slot: Int, into buffer: UnsafeMutableRawBufferPointer, using stream: CodecStream, emptyIsError: Bool
    ) throws(PageStoreError) {
        let time = now
        table.lock(slot)
        let word = table.word(slot)
        if word & ZramSlotFlags.same.rawValue != 0 {
            SameFilled.fill(buffer, with: table.handle(slot))
        } else if word & ZramSlotFlags.writtenBack.rawValue != 0 {
            if let error = readWrittenBackLocked(slot, word: word, into: buffer, using: stream) {
                table.unlock(slot)
                throw error
            }
        } else if word & ZramSlotFlags.sizeMask == 0 {
            table.unlock(slot)
            if emptyIsError { throw .emptySlot(slot: slot) }
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            return
        } else if let failure = decodeLocked(slot, word: word, into: buffer, using: stream) {
            table.unlock(slot)
            counters.failedReads.add(1, ordering: .relaxed)
            throw .corrupt(slot: slot, reason: failure)
        }
        table.setWord(slot, word & ~(ZramSlotFlags.idle.rawValue | ZramSlotFlags.postProcessing.rawValue))
        table.setAccessTime(slot, time)
        table.unlock(slot)
    }

    /// Copies (huge) or decompresses the pool object of `slot`, whose flag word is `word`,
    /// into `buffer` (one page). The caller holds the slot's lock and has checked that the slot
    /// holds a pool object. Returns why it failed, or `nil`.
    @inline(__always)
    func decodeLocked(
        _ slot: Int, word: UInt32, into buffer: UnsafeMutableRawBufferPointer, using stream: CodecStream
    ) -> String? {
        let size = Int(word & ZramSlotFlags.sizeMask)
        let object = pool.bytes(
            of: ZsHandle(rawValue: table.handle(slot)), inClass: pool.classes.classIndex(forSize: size), count: size)
        do throws(CodecError) {
            try stream.decode(
                object, isRaw: word & ZramSlotFlags.huge.rawValue != 0,
                priority: Int((word >> ZramSlotFlags.priorityShift) & 3), into: buffer)
        } catch {
            return error.description
        }
        return nil
    }

    #if DEBUG
    /// Verifies the device's invariants: slot table, pool, streams, and that the counters match
    /// what the slots hold. Call only while no other operation runs.
    public func checkInvariants() {
        table.checkInvariants()
        let poolObjects = pool.checkInvariants()
        streams.checkInvariants()
        var pages = 0, same = 0, huge = 0, compressed = 0, objects = 0, writtenBack = 0
        for slot in 0..<slotCount {
            let word = table.word(slot)
            guard word != 0 else { continue }
            pages += 1
            precondition(word & ZramSlotFlags.postProcessing.rawValue == 0, "slot \(slot) still marked for post-processing")
            if word & ZramSlotFlags.same.rawValue != 0 { same += 1; continue }
            if word & ZramSlotFlags.writtenBack.rawValue != 0 {
                writtenBack += 1
                precondition(word & ZramSlotFlags.sizeMask == 0, "written-back slot \(slot) has a size")
                precondition(table.handle(slot) != 0, "written-back slot \(slot) has no tier handle")
                if let file = writebackTier?.fileTier {
                    precondition(
                        file.isStored(PageTierHandle(rawValue: table.handle(slot))),
                        "written-back slot \(slot) names handle \(table.handle(slot)), whose block is not allocated")
                }
                continue
            }
            let size = Int(word & ZramSlotFlags.sizeMask)
            if word & ZramSlotFlags.huge.rawValue != 0 {
                huge += 1
                precondition(size == pageSize, "huge slot \(slot) has size \(size)")
            }
            compressed += size
            objects += 1
        }
        precondition(pages == stored.pagesStored, "pages_stored \(stored.pagesStored) != \(pages) slots")
        precondition(same == stored.samePages, "same_pages counter != \(same) slots")
        precondition(huge == stored.hugePages, "huge_pages counter != \(huge) slots")
        precondition(compressed == stored.comprDataSize, "compr_data_size counter != \(compressed)")
        precondition(objects == poolObjects, "\(objects) slots hold objects, pool has \(poolObjects)")
        precondition(writtenBack == counters.bdCount.load(ordering: .relaxed), "bd_count counter != \(writtenBack) slots")
        if let file = writebackTier?.fileTier {
            file.checkInvariants()
            precondition(file.allocatedBlocks == writtenBack, "\(file.allocatedBlocks) blocks allocated for \(writtenBack) written-back slots")
        }
    }
    #endif
}
