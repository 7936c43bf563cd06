#if canImport(Glibc)
import Glibc
#endif
import PageCodecs
import PageStore
import Synchronization
import SystemSupport
import ZsPool

/// A zswap-style compressed cache in front of a backing swap file (or any second tier: a Redis
/// Cluster, an encrypting tier), usable as a swap region's backend.
///
/// Pages stored on swap-out are compressed into an in-memory pool (a `ZsPool`, as zswap keeps
/// its entries in zsmalloc, one entry per swap slot); when the pool is full, the least
/// recently used entries are written back to the second tier in batches (their compressed
/// objects, through the `PageTier` interface: a `PageFileTier` over the file, or the tier
/// given), the slot keeping the tier's handle, and pages the pool refuses go straight to the
/// tier. Loads come from the pool when the page is there, otherwise from the tier.
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
/// ## A tier that may not be called from a signal handler
/// A cluster or an encrypting tier (`PageTier.isAsyncSignalSafe` false) is never called on the
/// store, load-free or notify paths, which a swap region runs in its SIGBUS handler: a thread
/// of the cache's own writes the LRU tail back in batches of ``FrontswapConfiguration/writebackBatch``
/// whenever the pool is at its limit (down to the accept threshold), and frees tier copies from
/// a queue. Stores are never refused for a full pool then: while the tier cannot take writes,
/// pages stay in the pool over its limit (``FrontswapStatistics/storedOverLimit``), and
/// writeback resumes when the tier takes them again. Loads from such a tier must run on a
/// normal thread (the swap layer's I/O threads: ``ioReadsAreSignalSafe``). Call
/// ``stopTierWriteback()`` before closing the tier.
///
/// ## Tier reads and failures
/// A tier read that fails frees nothing, counts `failed_reads` and throws
/// `PageStoreError.io` (or `.corrupt`); a retry after the fault clears succeeds. With
/// ``FrontswapConfiguration/checksums`` every object written to the file has a CRC-32C,
/// verified on read (`PageStoreError.corrupt`, nothing freed); the cluster checksums every
/// value.
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
/// (12 bytes per slot), the LRU links (8 bytes per slot), the writeback batch
/// (``FrontswapConfiguration/writebackBatch`` pages) and, over a tier safe in a signal handler,
/// one single-page batch per codec stream, all allocated in `init`: the store, load, notify and
/// writeback paths allocate nothing. A file tier made over ``file`` keeps 8 bytes per block
/// (length, checksum). It holds the file or tier but does not close it.
public final class FrontswapCache: SwapBackend, @unchecked Sendable {
    /// The configuration the cache was made with.
    public let configuration: FrontswapConfiguration
    /// The page size.
    public let pageSize: Int
    /// The number of swap slots.
    public let slotCount: Int
    /// The pool limit in bytes.
    public let poolLimitBytes: Int
    /// The accept threshold in bytes.
    public let acceptThresholdBytes: Int
    /// The exclusive-load hook frees copies.
    public var freesOnNotify: Bool { true }

    /// The backing file, when the cache was made over one (its `PageFileTier` hands out the
    /// blocks); `nil` over another tier.
    public let file: (any PageFile)?
    /// The second tier: where written-back and refused pages go.
    public let tier: any PageTier
    /// The file tier made over ``file``, if any.
    let fileTier: PageFileTier?
    /// Frees waiting for the writeback thread (a tier that may not be called from a signal
    /// handler), or `nil`: frees then go to the tier at once.
    let frees: TierFreeQueue?
    /// The writeback thread, set once by `init` when ``frees`` is set.
    private(set) var thread: TierWritebackThread?
    /// One single-object batch per codec stream, for stores that go straight to the tier.
    let directBatches: [DirectBatch]
    /// With a writeback thread: the pool reached its limit and the thread drains it to the
    /// accept threshold.
    let draining = Atomic<Bool>(false)

    let pool: ZsPool
    let streams: CodecStreams
    let entries: SlotEntries
    /// A compressed page of at least this size is stored raw (the pool's huge_class_size).
    let hugeClassSize: Int
    let lru: Mutex<IntrusiveLRU>
    let counters = FrontswapCounters()
    /// notify_free and miss_free.
    let notifications = SlotFreeNotifyCounters()
    /// stored_pages, compressed bytes, same_filled_pages, raw pages: the pool entries.
    let stored = StoredPageCounters()
    let reachedFull = Atomic<Bool>(false)
    /// With `.rejectNewest`: stores refused by a full pool, counting toward the next compaction.
    let refusalsTowardCompaction = Atomic<Int>(0)
    /// Held while shrinking: one shrinker at a time; it owns the writeback batch.
    let shrinker: Mutex<WritebackScratch>
    /// Taken inside ``shrinker``: ThreadSanitizer does not see `Mutex` on Linux; it sees this
    /// lock's atomics. Never contended.
    let shrinkerOrder = SpinLock()

    /// Makes a cache over `file` (through a `PageFileTier` over its first
    /// ``FrontswapConfiguration/fileBlockCount`` blocks: one per slot and one per codec stream
    /// for a store that replaces a page in a full file), with its pool
    /// limit taken from `memTotal` bytes of RAM when the limit is a percentage (default: this
    /// machine's `MemTotal`, `MemInfo.totalBytes()`).
    ///
    /// - Throws: ``ZSwapError/invalidConfiguration(_:)`` for a bad configuration or a file with
    ///   another page size; ``ZSwapError/codecUnavailable(codec:reason:)`` when the compressor
    ///   cannot be set up; ``ZSwapError/pool(_:)`` when the pool cannot be made.
    public convenience init(
        _ configuration: FrontswapConfiguration, file: any PageFile, memTotal: Int = MemInfo.totalBytes()
    ) throws(ZSwapError) {
        guard file.pageSize == configuration.pageSize else {
            throw .invalidConfiguration(
                "the backing file has \(file.pageSize)-byte blocks but the cache uses \(configuration.pageSize)-byte pages: open the file with the same page size")
        }
        if let problem = configuration.problem { throw .invalidConfiguration(problem) }
        let fileTier = PageFileTier(
            file: file, blockCount: configuration.fileBlockCount, checksums: configuration.checksums,
            punchFreedBlocks: configuration.punchFreedBlocks)
        try self.init(configuration, tier: fileTier, file: file, fileTier: fileTier, memTotal: memTotal)
    }

    /// Makes a cache that writes back to `tier` (a Redis Cluster, an encrypting tier, or a file
    /// tier you made), with its pool limit as in ``init(_:file:memTotal:)``. A tier that may not
    /// be called from a signal handler gets a writeback thread (see the type's discussion).
    ///
    /// - Throws: as ``init(_:file:memTotal:)``; ``ZSwapError/invalidConfiguration(_:)`` for a
    ///   tier that cannot hold a raw page.
    public convenience init(
        _ configuration: FrontswapConfiguration, tier: any PageTier, memTotal: Int = MemInfo.totalBytes()
    ) throws(ZSwapError) {
        guard tier.maxObjectSize >= configuration.pageSize else {
            throw .invalidConfiguration(
                "the tier takes objects of at most \(tier.maxObjectSize) bytes but a page the cache stores raw has \(configuration.pageSize): configure the tier for \(configuration.pageSize)-byte objects")
        }
        try self.init(configuration, tier: tier, file: nil, fileTier: nil, memTotal: memTotal)
    }

    private init(
        _ configuration: FrontswapConfiguration, tier: any PageTier, file: (any PageFile)?, fileTier: PageFileTier?,
        memTotal: Int
    ) throws(ZSwapError) {
        if let problem = configuration.problem { throw .invalidConfiguration(problem) }
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
        // With a writeback thread the pool may stay over its limit while the tier refuses
        // pages: no hard limit then (the thread keeps it near the limit when it can).
        let threaded = !tier.isAsyncSignalSafe
        do throws(ZsPoolError) {
            pool = try ZsPool(pageSize: pageSize, holding: slotCount + streams.count, memoryLimit: threaded ? 0 : limit)
        } catch {
            throw .pool(error)
        }
        hugeClassSize = pool.classes.hugeClassSize
        self.file = file
        self.tier = tier
        self.fileTier = fileTier
        entries = SlotEntries(count: configuration.slotCount)
        lru = Mutex(IntrusiveLRU(capacity: configuration.slotCount))
        shrinker = Mutex(WritebackScratch(capacity: configuration.writebackBatch, pageSize: pageSize))
        directBatches = threaded ? [] : (0..<streams.count).map { _ in DirectBatch(pageSize: configuration.pageSize) }
        frees = threaded ? TierFreeQueue(capacity: 65_536) : nil
        if let frees {
            do {
                thread = try TierWritebackThread(tier: tier, frees: frees) { [weak self] in
                    guard let self else { return .gone }
                    return self.threadRound()
                }
            } catch {
                throw .invalidConfiguration("the writeback thread for the tier could not be started (\(error)): the system is out of threads")
            }
        }
    }

    deinit {
        thread?.requestStop()
    }

    /// Stops the cache's writeback thread (a tier that may not be called from a signal
    /// handler) after it freed what it had queued, so the tier can be closed; writeback stops
    /// with it. Without a thread it does nothing. Call it when the cache is done.
    public func stopTierWriteback() {
        thread?.stop()
    }

    /// Whether loads from the tier may run in a signal handler: false for a tier that may not
    /// be called from one, so a SIGBUS-mode swap region reads this cache's pages on its I/O
    /// threads.
    public var ioReadsAreSignalSafe: Bool { tier.isAsyncSignalSafe }

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

    /// The tier handle of `slot`'s page while it is in the tier, else `nil`.
    public func tierHandle(of slot: Int) -> PageTierHandle? {
        guard slot >= 0 && slot < slotCount else { return nil }
        entries.lock(slot)
        defer { entries.unlock(slot) }
        guard entries.location(slot) == .file else { return nil }
        return PageTierHandle(rawValue: entries.tierHandle(slot))
    }

    /// The file block holding `slot`'s page while it is in the cache's own file, else `nil`.
    public func fileBlock(of slot: Int) -> Int? {
        guard fileTier != nil, let handle = tierHandle(of: slot) else { return nil }
        return Int(handle.rawValue) - 1
    }

    /// Whether `slot`'s page is in the tier now (a hint for the swap layer's I/O threads).
    public func readNeedsIO(at slot: Int) -> Bool { location(of: slot) == .file }

    /// The pool's `mem_used_total`.
    @inline(__always)
    var poolBytes: Int { pool.memUsedTotal }

    // MARK: Store

    /// Stores a page at `slot` (zswap_store): into the pool if it accepts the page, otherwise
    /// straight to the tier (a raw page). Replaces the slot's old contents only on success.
    /// With a writeback thread the pool always takes the page (over its limit if need be).
    ///
    /// - Throws: `PageStoreError.slotOutOfRange`,
    ///   `PageStoreError.wrongPageSize`, or `.io` when the page had to go to
    ///   the tier and the tier refused it (the slot keeps its old page).
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
            if case .stored(let handle) = storeToTier(page, slot) {
                // Incompressible and not kept raw: the tier has it now.
                if old == .pool { dropPoolEntry(slot) }
                counters.rejectCompressPoor.add(1, ordering: .relaxed)
                finishFileStore(slot, old: old, handle: handle)
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
            if old == .file { releaseTierCopy(slot) }  // before the handle is replaced
            entries.setPoolEntry(slot, entry)
            if let previous { freeObject(of: previous) }
            lru.withLock { $0.pushFront(slot) }
            return
        }
        // Refused by the pool: straight to the tier.
        switch storeToTier(page, slot) {
        case .stored(let handle):
            if old == .pool { dropPoolEntry(slot) }
            finishFileStore(slot, old: old, handle: handle)
        case .refused(let error):
            if case .io(let code, let operation) = error {
                throw .io(errno: code, operation: "store of slot \(slot) to the tier (the pool refused it): \(operation)")
            }
            throw .io(errno: EAGAIN, operation: "store of slot \(slot) to the tier (the pool refused it): \(error)")
        }
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
            if isRaw && !configuration.storeIncompressible && thread == nil { return .incompressible }
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

    /// What a store straight to the tier did.
    enum DirectStore {
        /// The tier holds the page under this handle.
        case stored(UInt64)
        /// The tier refused it (the slot keeps its old contents).
        case refused(PageTierError)
    }

    /// Writes `page` (a raw page) to the tier as a batch of one, with the batch of a codec
    /// stream held for the call (slot lock held; only a tier safe in a signal handler, which
    /// has these batches). Counts a failure.
    @inline(__always)
    private func storeToTier(_ page: UnsafeRawBufferPointer, _ slot: Int) -> DirectStore {
        guard !directBatches.isEmpty else { return .refused(.notAcknowledged("the tier is written only by the cache's thread")) }
        let index = streams.acquire()
        defer { streams.release(index) }
        let box = directBatches[index]
        box.batch.removeAll()
        do throws(PageTierError) {
            try box.batch.append(page)
            try tier.write(&box.batch)
        } catch {
            counters.failedWrites.add(1, ordering: .relaxed)
            return .refused(error)
        }
        guard let handle = box.batch.handle(at: 0) else {
            counters.failedWrites.add(1, ordering: .relaxed)
            return .refused(box.batch.failure ?? .notAcknowledged("the tier did not say why"))
        }
        return .stored(handle.rawValue)
    }

    /// State changes after a page went to the tier under `handle` (slot lock held; a pool entry
    /// was dropped, an old tier copy is freed here).
    @inline(__always)
    private func finishFileStore(_ slot: Int, old: SlotLocation, handle: UInt64) {
        if old == .file { releaseTierCopy(slot) }
        counters.pagesInFile.add(1, ordering: .relaxed)
        counters.fileStores.add(1, ordering: .relaxed)
        entries.setTierHandle(slot, handle)
    }

    /// With ``FrontswapConfiguration/LimitPolicy/rejectNewest``: refused stores between two
    /// compactions of the pool.
    public static let compactEvery = 1024

    /// zswap_check_limits with the accept-threshold hysteresis; with `shrinkOnLimit` a refused
    /// store first writes back a batch and asks again. Returns whether the pool takes a store.
    @inline(__always)
    func admit() -> Bool {
        if thread != nil {
            // The thread writes back; the pool takes the page whatever its size.
            if poolBytes >= poolLimitBytes {
                counters.storedOverLimit.add(1, ordering: .relaxed)
                draining.store(true, ordering: .relaxed)
            }
            return true
        }
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
    /// entry referenced (a batch writeback in flight then keeps it in the pool), or from the
    /// tier, which verifies its checksum, then decompressed. Never frees.
    ///
    /// - Throws: `PageStoreError.emptySlot`; `.io` when the tier read fails or the tier is
    ///   unreachable, `PageStoreError.corrupt` when its checksum (or a decompression) fails or
    ///   the tier has nothing under the slot's handle: nothing is freed, `failed_reads` counts
    ///   it, a retry may succeed.
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
            entries.clearClaim(slot)
            counters.loads.add(1, ordering: .relaxed)
        case .file:
            if let error = readFromTier(slot, into: buffer) {
                counters.failedReads.add(1, ordering: .relaxed)
                throw error
            }
            counters.fileLoads.add(1, ordering: .relaxed)
        }
    }

    /// Reads `slot`'s tier copy into `buffer` (one page): straight in when it is a raw page,
    /// else moved to a codec stream's scratch and decompressed (slot lock held). Returns the
    /// error, or `nil`.
    @inline(__always)
    private func readFromTier(_ slot: Int, into buffer: UnsafeMutableRawBufferPointer) -> PageStoreError? {
        let handle = PageTierHandle(rawValue: entries.tierHandle(slot))
        let length: Int
        do throws(PageTierError) { length = try tier.read(handle, into: buffer) } catch {
            return PageStoreError(tierError: error, slot: slot)
        }
        guard length < pageSize else { return nil }
        return streams.withStream { stream -> PageStoreError? in
            let object = UnsafeMutableRawBufferPointer(rebasing: stream.scratch[0..<length])
            object.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
            do throws(CodecError) {
                try stream.decode(UnsafeRawBufferPointer(object), isRaw: false, priority: 0, into: buffer)
            } catch {
                return .corrupt(slot: slot, reason: "the object read back from the tier does not decompress: \(error.description)")
            }
            return nil
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
        case .file: releaseTierCopy(slot)
        }
        entries.setEmpty(slot)
        return old
    }

    /// Frees `slot`'s tier copy (lock held): at once in a tier safe in a signal handler (a file
    /// block punched when configured), else through the writeback thread's queue.
    @inline(__always)
    func releaseTierCopy(_ slot: Int) {
        counters.pagesInFile.subtract(1, ordering: .relaxed)
        let handle = PageTierHandle(rawValue: entries.tierHandle(slot))
        if let frees {
            frees.push(handle)
        } else {
            withUnsafePointer(to: handle) { tier.free(UnsafeBufferPointer(start: $0, count: 1)) }
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
        s.failedPunches = fileTier?.failedPunchCount ?? 0
        s.file = file?.ioCounters ?? PageFileCounters()
        s.storedOverLimit = counters.storedOverLimit.load(ordering: .relaxed)
        s.tierRefused = counters.tierRefused.load(ordering: .relaxed)
        s.pendingTierFrees = frees?.count ?? 0
        s.tier = tier.tierStatistics
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
        let poolObjects = pool.checkInvariants()
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
        precondition(objects == poolObjects, "\(objects) slots hold objects, the pool has \(poolObjects)")
        precondition(inFile == counters.pagesInFile.load(ordering: .relaxed), "\(inFile) slots in the file, counter says \(counters.pagesInFile.load(ordering: .relaxed))")
        if let fileTier {
            fileTier.checkInvariants()
            precondition(fileTier.allocatedBlocks == inFile, "\(fileTier.allocatedBlocks) blocks in use for \(inFile) slots in the file")
        }
    }
    #endif
}
