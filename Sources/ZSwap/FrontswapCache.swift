import PageCodecs
import PageStore
import Synchronization
import SystemSupport
import ZsPool

/// A zswap-style compressed cache in front of a backing swap file, usable as a swap region's
/// backend.
///
/// Pages stored on swap-out are compressed into an in-memory pool (a `ZsPool`, as zswap keeps
/// its entries in zsmalloc, one entry per swap slot); when the pool is full, the least
/// recently used entries are written back to their block of the file (slot i is block i, as
/// on a swap device), and pages the pool refuses go straight to the file. Loads come from the
/// pool when the page is there, otherwise from the file.
///
/// ```swift
/// let file = try BackingFile.temporary(blockCount: 4096)
/// var configuration = FrontswapConfiguration(slotCount: 4096, poolLimit: .bytes(4 << 20))
/// let cache = try FrontswapCache(configuration, file: file)
/// try cache.writePage(page, at: 17)          // store (swap-out)
/// try cache.readPage(at: 17, into: buffer)   // load (swap-in); never frees
/// cache.slotFreeNotify(17)                   // exclusive load: the swap-in installed it, dirty
/// print(cache.frontswapStatistics.lines)
/// ```
///
/// ## The `SwapBackend` operations, in zswap's terms
/// - ``writePage(_:at:)`` is `zswap_store`: same-filled pages cost nothing, pages that do not
///   compress are kept raw (``FrontswapConfiguration/storeIncompressible``), and a store the
///   pool refuses (full, or not yet below the accept threshold after being full; allocation
///   failure) is written to the slot's file block instead. An older copy of the slot, in the
///   pool or the file, is dropped once the new one is stored.
/// - ``readPage(at:into:)`` is `zswap_load` without the exclusive part: it never frees. A pool
///   hit marks the entry referenced (a second chance against writeback).
/// - ``slotFreeNotify(_:)`` is the exclusive load: it drops the slot's copy (pool entry and
///   file block). **Contract**: the swap layer sends it only when the load was a swap-in,
///   the read completed and the page is installed, no other reader holds the slot (a single
///   owner), and the page is now dirty (its next eviction stores it again), as the seed's
///   rules and the kernel's 2024 fix require. Snapshot or verification reads never send it.
///   Like zram, a notify that finds the slot busy counts `miss_free` and keeps the copy.
/// - ``discard(_:)`` is `zswap_invalidate`: the swap slot was freed; the pool entry and the
///   file block (punched out of the file) are dropped.
///
/// ## Pool limit and writeback
/// The limit is ``FrontswapConfiguration/poolLimit`` (bytes, or a percentage of `MemTotal`),
/// measured as the pool's `mem_used_total` and also set as the pool's hard `mem_limit`. Once a
/// store finds the pool at its limit, stores are refused until it drops to
/// ``FrontswapConfiguration/acceptThresholdPercent`` of the limit (zswap's hysteresis). With
/// ``FrontswapConfiguration/shrinkOnLimit`` the refusing thread first writes back up to
/// ``FrontswapConfiguration/writebackBatch`` entries from the LRU tail and tries again;
/// ``shrink(maxPages:)`` does the same on demand (for a reclaim thread). With
/// ``FrontswapConfiguration/limitPolicy`` `.rejectNewest` (zswap's way) only the store that
/// finds the pool at its limit writes back a batch; later stores go to the file until the pool
/// drains below the threshold, compacting it (``compact()``) every ``compactEvery`` refusals
/// so that the holes loads leave in its spans do not keep its footprint above the threshold
/// for ever. An entry loaded since the shrinker last looked at it is rotated to the head
/// instead (second chance). A writeback whose file write fails leaves the entry in the pool,
/// readable (`reject_reclaim_fail`).
///
/// ## File reads and failures
/// A file read that fails frees nothing, counts `failed_reads` and throws
/// `PageStoreError.io`; a retry after the fault clears succeeds. With
/// ``FrontswapConfiguration/checksums`` every page written to the file has a CRC-32C, verified
/// on read (`PageStoreError.corrupt`, nothing freed).
///
/// ## Concurrency
/// `@unchecked Sendable` because every shared field is guarded:
/// - Each slot has one entry (`SlotEntries`): an atomic state word (``SlotLocation``, lock
///   bit, referenced bit, the pool object's size and kind) and the pool handle. Every
///   operation on a slot holds that slot's lock for its whole duration (pool call, file I/O,
///   state change), so operations on one slot are serialized and operations on different
///   slots run in parallel. Compression runs before the lock is taken (the page is the
///   caller's), and the new object is allocated and filled before it, too.
/// - The pool's classes have a spin lock each, taken inside a slot lock, never around one.
/// - The LRU (intrusive links in preallocated per-slot arrays) sits behind one `Mutex`, held
///   only to link, unlink or pick a victim: a few pointer writes. Lock order is slot lock, then
///   LRU mutex; the shrinker, which holds the LRU mutex while picking, only *tries* slot locks
///   and skips busy slots, so it never waits against that order.
/// - Loads mark an entry referenced with an atomic OR: no LRU lock on the load path.
/// - One thread shrinks at a time (a `Mutex`; others that find it taken do not wait); one
///   compaction at a time (the pool's). Codec streams are taken per operation, after any slot
///   lock and never while waiting for one. Counters are relaxed atomics.
///
/// **Memory and ownership.** The cache owns its pool (a `ZsPool`: one reserved address range,
/// ``poolStatistics``), its codec streams (`CodecStreams`, two per core), the slot entries
/// (12 bytes per slot), the LRU links (8 bytes per slot) and optional checksums (8 bytes per
/// slot), all allocated in `init`: the store, load, notify and writeback paths allocate
/// nothing. It holds the file but does not close it.
public final class FrontswapCache: SwapBackend, @unchecked Sendable {
    /// The configuration the cache was made with.
    public let configuration: FrontswapConfiguration
    /// The page size.
    public let pageSize: Int
    /// The number of swap slots (and file blocks).
    public let slotCount: Int
    /// The pool limit in bytes.
    public let poolLimitBytes: Int
    /// The accept threshold in bytes.
    public let acceptThresholdBytes: Int
    /// The exclusive-load hook frees copies.
    public var freesOnNotify: Bool { true }

    /// The backing file (block i is slot i).
    public let file: any PageFile

    let pool: ZsPool
    let streams: CodecStreams
    let entries: SlotEntries
    /// A compressed page of at least this size is stored raw (the pool's huge_class_size).
    let hugeClassSize: Int
    let lru: Mutex<IntrusiveLRU>
    let checksums: PageChecksums?
    let counters = FrontswapCounters()
    /// notify_free and miss_free.
    let notifications = SlotFreeNotifyCounters()
    /// stored_pages, compressed bytes, same_filled_pages, raw pages: the pool entries.
    let stored = StoredPageCounters()
    let reachedFull = Atomic<Bool>(false)
    /// With `.rejectNewest`: stores refused by a full pool, counting toward the next compaction.
    let refusalsTowardCompaction = Atomic<Int>(0)
    /// Held while shrinking: one shrinker at a time.
    let shrinker = Mutex(())

    /// Makes a cache over `file`, with its pool limit taken from `memTotal` bytes of RAM when
    /// the limit is a percentage (default: this machine's `MemTotal`, `MemInfo.totalBytes()`).
    ///
    /// - Throws: ``ZSwapError/invalidConfiguration(_:)`` for a bad configuration or a file with
    ///   another page size; ``ZSwapError/codecUnavailable(codec:reason:)`` when the compressor
    ///   cannot be set up; ``ZSwapError/pool(_:)`` when the pool cannot be made.
    public init(
        _ configuration: FrontswapConfiguration, file: any PageFile, memTotal: Int = MemInfo.totalBytes()
    ) throws(ZSwapError) {
        if let problem = configuration.problem { throw .invalidConfiguration(problem) }
        guard file.pageSize == configuration.pageSize else {
            throw .invalidConfiguration(
                "the backing file has \(file.pageSize)-byte blocks but the cache uses \(configuration.pageSize)-byte pages: open the file with the same page size")
        }
        let limit = configuration.poolLimitBytes(memTotal: memTotal)
        guard limit >= configuration.pageSize else {
            throw .invalidConfiguration(
                "a pool limit of \(configuration.poolLimit) is less than one page on a machine with \(memTotal) bytes: raise the limit")
        }
        self.configuration = configuration
        pageSize = configuration.pageSize
        slotCount = configuration.slotCount
        poolLimitBytes = limit
        acceptThresholdBytes = limit * configuration.acceptThresholdPercent / 100
        let codec = configuration.codec
        streams = try CodecStreams(
            pageSize: configuration.pageSize,
            makePrimary: { () throws(ZSwapError) -> any PageCodec in
                do throws(CodecError) { return try codec.makeStream() } catch {
                    throw .codecUnavailable(codec: codec.description, reason: error.description)
                }
            })
        // At most one object per slot, plus the new objects of stores in flight (each filled
        // before the slot's old one is freed): a margin of one per stream. An allocation past
        // the spans fails as a full pool does, and the page goes to the file.
        do throws(ZsPoolError) {
            pool = try ZsPool(pageSize: pageSize, holding: slotCount + streams.count, memoryLimit: limit)
        } catch {
            throw .pool(error)
        }
        hugeClassSize = pool.classes.hugeClassSize
        self.file = file
        entries = SlotEntries(count: configuration.slotCount)
        lru = Mutex(IntrusiveLRU(capacity: configuration.slotCount))
        checksums = configuration.checksums ? PageChecksums(count: configuration.slotCount) : nil
    }

    @inline(__always)
    func check(_ slot: Int, _ count: Int) throws(PageStoreError) {
        guard slot >= 0 && slot < slotCount else { throw .slotOutOfRange(slot: slot, slotCount: slotCount) }
        guard count == pageSize else { throw .wrongPageSize(expected: pageSize, actual: count) }
    }

    /// Where `slot`'s page lives right now (a racy peek while other threads use the slot).
    public func location(of slot: Int) -> SlotLocation {
        guard slot >= 0 && slot < slotCount else { return .empty }
        return entries.location(slot)
    }

    /// Whether `slot`'s page is in the file now (a hint for the swap layer's I/O threads).
    public func readNeedsIO(at slot: Int) -> Bool { location(of: slot) == .file }

    /// The pool's `mem_used_total`.
    @inline(__always)
    var poolBytes: Int { pool.memUsedTotal }

    // MARK: Store

    /// Stores a page at `slot` (zswap_store): into the pool if it accepts the page, otherwise
    /// into the slot's file block. Replaces the slot's old contents only on success.
    ///
    /// - Throws: `PageStoreError.slotOutOfRange`,
    ///   `PageStoreError.wrongPageSize`, or `.io` when the page had to go to
    ///   the file and the write failed (the slot keeps its old page; an old page in the file may
    ///   be torn by the failed write, which checksums then report as corrupt on read).
    public func writePage(_ page: UnsafeRawBufferPointer, at slot: Int) throws(PageStoreError) {
        try check(slot, page.count)
        var entry: PoolEntry? = nil
        var poorlyCompressed = false
        if admit() {
            switch prepareEntry(for: page) {
            case .entry(let made): entry = made
            case .incompressible: poorlyCompressed = true
            case .poolFull:
                counters.rejectAllocFail.add(1, ordering: .relaxed)
                reachedFull.store(true, ordering: .relaxed)
            }
        }
        entries.lock(slot)
        defer { entries.unlock(slot) }
        let old = entries.location(slot)
        if poorlyCompressed {
            if storeToFile(page, slot) == nil {
                // Incompressible and not kept raw: the file has it now.
                if old == .pool { dropPoolEntry(slot) }
                counters.rejectCompressPoor.add(1, ordering: .relaxed)
                finishFileStore(slot, old: old)
                return
            }
            // The file refused it: keep it raw in the pool after all, if the pool takes it.
            entry = makeEntry(bytes: page, isRaw: true)
            if entry == nil {
                counters.rejectAllocFail.add(1, ordering: .relaxed)
                reachedFull.store(true, ordering: .relaxed)
            }
        }
        if let entry {
            let previous = old == .pool ? entries.poolEntry(slot) : nil
            entries.setPoolEntry(slot, entry)
            if let previous { freeObject(of: previous) }
            if old == .file { releaseFileBlock(slot) }
            lru.withLock { $0.pushFront(slot) }
            return
        }
        // Refused by the pool: straight to the file.
        if let error = storeToFile(page, slot) {
            guard case .io(let code, _) = error else { throw error }
            throw .io(errno: code, operation: "store of slot \(slot) to the backing file (the pool refused it)")
        }
        if old == .pool { dropPoolEntry(slot) }
        finishFileStore(slot, old: old)
    }

    /// What ``prepareEntry(for:)`` made of a page.
    enum Preparation {
        /// A pool entry, object allocated and filled (or same-filled), counted.
        case entry(PoolEntry)
        /// The page does not compress and the configuration sends such pages to the file.
        case incompressible
        /// The pool could not allocate the object (its limit, or no span left).
        case poolFull
    }

    /// Compresses `page` and puts it in a new pool object, before the slot's lock is taken:
    /// the same-filled check, then compression with a codec stream (held only here), the huge
    /// check, allocation and copy. The entry is counted in the stored-page counters.
    @inline(__always)
    func prepareEntry(for page: UnsafeRawBufferPointer) -> Preparation {
        if let word = SameFilled.word(of: page) {
            stored.addSameFilled()
            return .entry(PoolEntry(handle: word, size: 0, isSameFilled: true, isRaw: false))
        }
        return streams.withStream { stream -> Preparation in
            let (bytes, isRaw) = stream.compress(page, hugeThreshold: hugeClassSize)
            if isRaw && !configuration.storeIncompressible { return .incompressible }
            guard let entry = makeEntry(bytes: bytes, isRaw: isRaw) else { return .poolFull }
            return .entry(entry)
        }
    }

    /// Allocates an object for `bytes`, copies them in and counts it; `nil` when the pool is
    /// full.
    @inline(__always)
    func makeEntry(bytes: UnsafeRawBufferPointer, isRaw: Bool) -> PoolEntry? {
        let classIndex = pool.classes.classIndex(forSize: bytes.count)
        guard let handle = pool.allocate(inClass: classIndex) else { return nil }
        pool.write(bytes, to: handle, inClass: classIndex)
        stored.addObject(size: bytes.count, huge: isRaw)
        return PoolEntry(handle: handle.rawValue, size: bytes.count, isSameFilled: false, isRaw: isRaw)
    }

    /// Frees a pool entry's object and uncounts it (same-filled entries have none).
    @inline(__always)
    func freeObject(of entry: PoolEntry) {
        if entry.isSameFilled {
            stored.removeSameFilled()
            return
        }
        stored.removeObject(size: entry.size, huge: entry.isRaw)
        pool.free(ZsHandle(rawValue: entry.handle), inClass: pool.classes.classIndex(forSize: entry.size))
    }

    /// Empties `slot`'s pool entry: off the LRU, object freed (slot lock held; the caller sets
    /// the new location).
    @inline(__always)
    func dropPoolEntry(_ slot: Int) {
        lru.withLock { $0.remove(slot) }
        freeObject(of: entries.poolEntry(slot))
    }

    /// Writes `page` to `slot`'s block and records its checksum; counts a failure and returns
    /// its error.
    @inline(__always)
    private func storeToFile(_ page: UnsafeRawBufferPointer, _ slot: Int) -> PageStoreError? {
        do throws(PageStoreError) {
            try file.writeBlock(page, at: slot)
        } catch {
            counters.failedWrites.add(1, ordering: .relaxed)
            return error
        }
        checksums?.record(page, for: slot)
        return nil
    }

    /// State changes after a page went to the file (slot lock held; a pool entry was dropped).
    @inline(__always)
    private func finishFileStore(_ slot: Int, old: SlotLocation) {
        if old != .file { counters.pagesInFile.add(1, ordering: .relaxed) }
        counters.fileStores.add(1, ordering: .relaxed)
        entries.setLocation(slot, .file)
    }

    /// With ``FrontswapConfiguration/LimitPolicy/rejectNewest``: refused stores between two
    /// compactions of the pool.
    public static let compactEvery = 1024

    /// zswap_check_limits with the accept-threshold hysteresis; with `shrinkOnLimit` a refused
    /// store first writes back a batch and asks again. Returns whether the pool takes a store.
    @inline(__always)
    func admit() -> Bool {
        if checkLimits() { return true }
        if configuration.shrinkOnLimit {
            switch configuration.limitPolicy {
            case .writeBackOldest:
                shrink(maxPages: configuration.writebackBatch)
                if checkLimits() { return true }
            case .rejectNewest:
                // The kernel's way: a store that finds the pool at its limit starts one batch of
                // writeback (zswap queues its shrink worker), and stores go to the file until the
                // pool drains below the accept threshold: the newest pages leave, not the oldest.
                // Loads free objects but leave holes in the pool's spans, so its footprint would
                // never fall below the threshold: compact now and then (zsmalloc's shrinker does).
                if refusalsTowardCompaction.add(1, ordering: .relaxed).newValue % Self.compactEvery == 0 {
                    compact()
                    if checkLimits() { return true }
                }
                if poolBytes >= poolLimitBytes { shrink(maxPages: configuration.writebackBatch) }
            }
        }
        counters.rejectPoolFull.add(1, ordering: .relaxed)
        return false
    }

    /// Whether the pool accepts a store now: not at the limit, and below the accept threshold
    /// if it was full.
    @inline(__always)
    func checkLimits() -> Bool {
        let used = poolBytes
        if used >= poolLimitBytes {
            counters.poolLimitHit.add(1, ordering: .relaxed)
            reachedFull.store(true, ordering: .relaxed)
            return false
        }
        if reachedFull.load(ordering: .relaxed) {
            guard used <= acceptThresholdBytes else { return false }
            reachedFull.store(false, ordering: .relaxed)
        }
        return true
    }

    // MARK: Load

    /// Loads the page at `slot` (zswap_load, never exclusive): from the pool, marking the
    /// entry referenced, or from the file, verifying its checksum. Never frees.
    ///
    /// - Throws: `PageStoreError.emptySlot`; `.io` when the file read fails and
    ///   `PageStoreError.corrupt` when its checksum (or the pool's
    ///   decompression) fails: nothing is freed, `failed_reads` counts it, a retry may succeed.
    public func readPage(at slot: Int, into buffer: UnsafeMutableRawBufferPointer) throws(PageStoreError) {
        try check(slot, buffer.count)
        entries.lock(slot)
        defer { entries.unlock(slot) }
        switch entries.location(slot) {
        case .empty:
            throw .emptySlot(slot: slot)
        case .pool:
            if let failure = decode(entries.poolEntry(slot), into: buffer) {
                counters.failedReads.add(1, ordering: .relaxed)
                throw .corrupt(slot: slot, reason: failure)
            }
            entries.markReferenced(slot)
            counters.loads.add(1, ordering: .relaxed)
        case .file:
            do throws(PageStoreError) {
                try file.readBlock(slot, into: buffer)
                try checksums?.verify(UnsafeRawBufferPointer(buffer), for: slot, slot: slot)
            } catch {
                counters.failedReads.add(1, ordering: .relaxed)
                throw error
            }
            counters.fileLoads.add(1, ordering: .relaxed)
        }
    }

    /// Restores a pool entry's page into `buffer` (slot lock held): fills a same-filled page,
    /// copies a raw one, decompresses the others with `stream` (or one taken for the call).
    /// Returns why it failed, or `nil`.
    @inline(__always)
    func decode(_ entry: PoolEntry, into buffer: UnsafeMutableRawBufferPointer, using stream: CodecStream? = nil) -> String? {
        if entry.isSameFilled {
            SameFilled.fill(buffer, with: entry.handle)
            return nil
        }
        let object = pool.bytes(
            of: ZsHandle(rawValue: entry.handle), inClass: pool.classes.classIndex(forSize: entry.size), count: entry.size)
        do throws(CodecError) {
            if entry.isRaw {
                try CodecStream.copyRaw(object, into: buffer)
            } else if let stream {
                try stream.decode(object, isRaw: false, priority: 0, into: buffer)
            } else {
                try streams.withStream { (stream) throws(CodecError) in
                    try stream.decode(object, isRaw: false, priority: 0, into: buffer)
                }
            }
        } catch {
            return error.description
        }
        return nil
    }

    // MARK: Free

    /// The exclusive-load hook: the swap layer installed the page it read from `slot` (a
    /// swap-in, single owner, page now dirty) and frees the slot; the cache drops the pool
    /// entry and the file block. Counts `notify_free`; a busy slot counts `miss_free` and
    /// keeps its copy until it is overwritten or discarded.
    public func slotFreeNotify(_ slot: Int) {
        guard slot >= 0 && slot < slotCount, notifications.notify(takingLock: { entries.tryLock(slot) }) else { return }
        if drop(slot) == .pool { counters.exclusiveLoads.add(1, ordering: .relaxed) }
        entries.unlock(slot)
    }

    /// zswap_invalidate: the swap slot was freed; drops the pool entry and the file block.
    /// Out-of-range slots are ignored.
    public func discard(_ slot: Int) {
        guard slot >= 0 && slot < slotCount else { return }
        entries.lock(slot)
        if drop(slot) != .empty { counters.invalidates.add(1, ordering: .relaxed) }
        entries.unlock(slot)
    }

    /// Empties `slot` (lock held) and returns where its page was.
    @inline(__always)
    private func drop(_ slot: Int) -> SlotLocation {
        let old = entries.location(slot)
        switch old {
        case .empty: return old
        case .pool: dropPoolEntry(slot)
        case .file: releaseFileBlock(slot)
        }
        entries.setLocation(slot, .empty)
        return old
    }

    /// Forgets `slot`'s file copy: checksum cleared, block punched (lock held).
    @inline(__always)
    func releaseFileBlock(_ slot: Int) {
        checksums?.clear(slot)
        counters.pagesInFile.subtract(1, ordering: .relaxed)
        guard configuration.punchFreedBlocks else { return }
        do throws(PageStoreError) { try file.punchHole(at: slot, count: 1) } catch {
            counters.failedPunches.add(1, ordering: .relaxed)
        }
    }

    // MARK: Statistics

    /// zswap's debugfs counters plus the file tier's.
    public var frontswapStatistics: FrontswapStatistics {
        var s = FrontswapStatistics()
        s.storedPages = stored.pagesStored
        s.poolTotalSize = pool.memUsedTotal
        s.poolLimit = poolLimitBytes
        s.acceptThreshold = acceptThresholdBytes
        s.writtenBackPages = counters.writtenBack.load(ordering: .relaxed)
        s.rejectReclaimFail = counters.rejectReclaimFail.load(ordering: .relaxed)
        s.rejectCompressPoor = counters.rejectCompressPoor.load(ordering: .relaxed)
        s.rejectAllocFail = counters.rejectAllocFail.load(ordering: .relaxed)
        s.rejectPoolFull = counters.rejectPoolFull.load(ordering: .relaxed)
        s.poolLimitHit = counters.poolLimitHit.load(ordering: .relaxed)
        s.sameFilledPages = stored.samePages
        s.rawPages = stored.hugePages
        s.loads = counters.loads.load(ordering: .relaxed)
        s.exclusiveLoads = counters.exclusiveLoads.load(ordering: .relaxed)
        s.fileLoads = counters.fileLoads.load(ordering: .relaxed)
        s.fileStores = counters.fileStores.load(ordering: .relaxed)
        s.pagesInFile = counters.pagesInFile.load(ordering: .relaxed)
        s.invalidates = counters.invalidates.load(ordering: .relaxed)
        s.failedReads = counters.failedReads.load(ordering: .relaxed)
        s.failedWrites = counters.failedWrites.load(ordering: .relaxed)
        s.notifyFree = notifications.notifyFree
        s.missFree = notifications.missFree
        s.failedPunches = counters.failedPunches.load(ordering: .relaxed)
        s.file = file.ioCounters
        return s
    }

    /// The pool's memory figures in zram's `mm_stat` form (the pool entries' pages, their
    /// compressed bytes, `mem_used_total` and friends), so a cache's pool reads as a zram
    /// device's does.
    public var mmStat: ZsPoolMMStat { stored.mmStat(pool: pool, pageSize: pageSize) }

    /// The pool's own figures: objects, spans, mem_used_total and its high-water mark,
    /// compaction, the zsmalloc equivalent.
    public var poolStatistics: ZsPoolStatistics { pool.statistics }

    /// The counters in the shared vocabulary: pool figures from ``mmStat``, `writtenBack`,
    /// `fileReads` (loads served by the file), `failedReads`/`failedWrites` of the cache.
    public var statistics: BackendStatistics {
        let z = frontswapStatistics
        let mm = mmStat
        var s = BackendStatistics()
        s.storedPages = z.storedPages + z.pagesInFile
        s.origDataSize = mm.origDataSize
        s.comprDataSize = mm.comprDataSize
        s.memUsedTotal = mm.memUsedTotal
        s.memUsedMax = mm.memUsedMax
        s.samePages = mm.samePages
        s.hugePages = mm.hugePages
        s.failedReads = z.failedReads
        s.failedWrites = z.failedWrites
        s.notifyFree = z.notifyFree
        s.missFree = z.missFree
        s.writtenBack = z.writtenBackPages
        s.fileReads = z.fileLoads
        return s
    }

    /// The LRU from most to least recent (for tests and reports; allocates).
    public func lruOrder() -> [Int] { lru.withLock { $0.orderedSlots() } }

    #if DEBUG
    /// Verifies the cache's invariants: the slot entries, LRU links, the pool's and the
    /// streams' own, that the LRU holds exactly the slots in the pool, and that the counters
    /// and the pool's objects match what the entries hold. Call only while no other operation
    /// runs. Debug builds only.
    public func checkInvariants() {
        entries.checkInvariants()
        pool.checkInvariants()
        streams.checkInvariants()
        var inPool = 0, inFile = 0, same = 0, raw = 0, objects = 0, compressed = 0
        lru.withLock { list in
            list.checkInvariants()
            for slot in 0..<slotCount {
                let location = entries.location(slot)
                precondition(list.contains(slot) == (location == .pool), "slot \(slot) in \(location) but LRU membership \(list.contains(slot))")
                if location == .file { inFile += 1 }
                guard location == .pool else { continue }
                inPool += 1
                let entry = entries.poolEntry(slot)
                if entry.isSameFilled { same += 1; continue }
                objects += 1
                compressed += entry.size
                if entry.isRaw {
                    raw += 1
                    precondition(entry.size == pageSize, "raw slot \(slot) has size \(entry.size)")
                }
            }
        }
        precondition(inPool == stored.pagesStored, "\(inPool) slots in the pool, stored_pages says \(stored.pagesStored)")
        precondition(same == stored.samePages, "\(same) same-filled slots, same_filled_pages says \(stored.samePages)")
        precondition(raw == stored.hugePages, "\(raw) raw slots, the counter says \(stored.hugePages)")
        precondition(compressed == stored.comprDataSize, "slots hold \(compressed) bytes, the counter says \(stored.comprDataSize)")
        precondition(objects == pool.objectCount, "\(objects) slots hold objects, the pool has \(pool.objectCount)")
        precondition(inFile == counters.pagesInFile.load(ordering: .relaxed), "\(inFile) slots in the file, counter says \(counters.pagesInFile.load(ordering: .relaxed))")
    }
    #endif
}
