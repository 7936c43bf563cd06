import PageCodecs
import PageStore
import Synchronization
import ZRAM

/// A zswap-style compressed cache in front of a backing swap file, usable as a swap region's
/// backend.
///
/// Pages stored on swap-out are compressed into an in-memory pool (a `ZramDevice` keyed by
/// swap slot, as zswap keeps its entries in zsmalloc); when the pool is full, the least
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
///   owner), and the page is now dirty (its next eviction stores it again), as DESIGN.md's
///   seed rules and the kernel's 2024 fix require. Snapshot or verification reads never send
///   it. Like zram, a notify that finds the slot busy counts `miss_free` and keeps the copy.
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
/// drains below the threshold, compacting it every ``compactEvery`` refusals so that the holes
/// loads leave in its spans do not keep its footprint above the threshold for ever. An entry loaded since
/// the shrinker last looked at it is rotated to the head instead (second chance). A writeback
/// whose file write fails leaves the entry in the pool, readable (`reject_reclaim_fail`).
///
/// ## File reads and failures
/// A file read that fails frees nothing, counts `failed_reads` and throws
/// `PageStoreError.io`; a retry after the fault clears succeeds. With
/// ``FrontswapConfiguration/checksums`` every page written to the file has a CRC-32C, verified
/// on read (`PageStoreError.corrupt`, nothing freed).
///
/// ## Concurrency
/// `@unchecked Sendable` because every shared field is guarded:
/// - Each slot has one atomic state word (``SlotLocation`` + lock bit + referenced bit). Every
///   operation on a slot holds that slot's lock for its whole duration (pool call, file I/O,
///   state change), so operations on one slot are serialized and operations on different
///   slots run in parallel. The pool's own per-slot locks nest inside.
/// - The LRU (intrusive links in preallocated per-slot arrays) sits behind one `Mutex`, held
///   only to link, unlink or pick a victim: a few pointer writes. Lock order is slot lock, then
///   LRU mutex; the shrinker, which holds the LRU mutex while picking, only *tries* slot locks
///   and skips busy slots, so it never waits against that order.
/// - Loads mark an entry referenced with an atomic OR: no LRU lock on the load path.
/// - One thread shrinks at a time (a `Mutex` guarding its scratch page; others that find it
///   taken do not wait). Counters are relaxed atomics.
///
/// **Memory and ownership.** The cache owns its pool (a `ZramDevice`: slot table, size-class
/// pool, codec streams), the slot states (4 bytes per slot), the LRU links (8 bytes per slot),
/// optional checksums (8 bytes per slot) and one scratch page for writeback, all allocated in
/// `init`: the store, load, notify and writeback paths allocate nothing. It holds the file
/// but does not close it.
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

    /// The compressed pool, keyed by slot.
    public let pool: ZramDevice
    /// The backing file (block i is slot i).
    public let file: any PageFile

    let states: SlotStates
    let lru: Mutex<IntrusiveLRU>
    let checksums: PageChecksums?
    let counters = FrontswapCounters()
    let reachedFull = Atomic<Bool>(false)
    /// With `.rejectNewest`: stores refused by a full pool, counting toward the next compaction.
    let refusalsTowardCompaction = Atomic<Int>(0)
    let shrinker: Mutex<WritebackScratch>

    /// The one page the shrinker decompresses into before writing it to the file.
    ///
    /// **Memory.** One page allocated in `init` and freed in `deinit`, used only while the
    /// cache's shrink mutex is held.
    struct WritebackScratch: ~Copyable {
        let page: UnsafeMutableRawBufferPointer
        init(pageSize: Int) {
            page = .allocate(byteCount: pageSize, alignment: 64)
            page.initializeMemory(as: UInt8.self, repeating: 0)
        }
        deinit { page.deallocate() }
    }

    /// Makes a cache over `file`, with its pool limit taken from `memTotal` bytes of RAM when
    /// the limit is a percentage (default: this machine's `MemTotal`).
    ///
    /// - Throws: ``ZSwapError/invalidConfiguration(_:)`` for a bad configuration or a file with
    ///   another page size; ``ZSwapError/pool(_:)`` when the pool cannot be made.
    public init(
        _ configuration: FrontswapConfiguration, file: any PageFile, memTotal: Int = MemoryInfo.totalBytes()
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
        var poolConfiguration = ZramConfiguration(
            disksize: configuration.slotCount * configuration.pageSize, pageSize: configuration.pageSize,
            codec: configuration.codec, memLimit: limit)
        poolConfiguration.secondaryCodec = nil
        do throws(ZramError) { pool = try ZramDevice(poolConfiguration) } catch { throw .pool(error) }
        self.file = file
        states = SlotStates(count: configuration.slotCount)
        lru = Mutex(IntrusiveLRU(capacity: configuration.slotCount))
        checksums = configuration.checksums ? PageChecksums(count: configuration.slotCount) : nil
        shrinker = Mutex(WritebackScratch(pageSize: configuration.pageSize))
    }

    @inline(__always)
    func check(_ slot: Int, _ count: Int) throws(PageStoreError) {
        guard slot >= 0 && slot < slotCount else { throw .slotOutOfRange(slot: slot, slotCount: slotCount) }
        guard count == pageSize else { throw .wrongPageSize(expected: pageSize, actual: count) }
    }

    /// Where `slot`'s page lives right now (a racy peek while other threads use the slot).
    public func location(of slot: Int) -> SlotLocation {
        guard slot >= 0 && slot < slotCount else { return .empty }
        return states.location(slot)
    }

    /// Whether `slot`'s page is in the file now (a hint for the swap layer's I/O threads).
    public func readNeedsIO(at slot: Int) -> Bool { location(of: slot) == .file }

    /// The pool's `mem_used_total`.
    @inline(__always)
    var poolBytes: Int { pool.mmStat.memUsedTotal }

    // MARK: Store

    /// Stores a page at `slot` (zswap_store): into the pool if it accepts the page, otherwise
    /// into the slot's file block. Replaces the slot's old contents only on success.
    ///
    /// - Throws: ``PageStoreError/slotOutOfRange(slot:slotCount:)``,
    ///   ``PageStoreError/wrongPageSize(expected:actual:)``, or `.io` when the page had to go to
    ///   the file and the write failed (the slot keeps its old page; an old page in the file may
    ///   be torn by the failed write, which checksums then report as corrupt on read).
    public func writePage(_ page: UnsafeRawBufferPointer, at slot: Int) throws(PageStoreError) {
        try check(slot, page.count)
        var accepted = admit()
        states.lock(slot)
        defer { states.unlock(slot) }
        let old = states.location(slot)
        if accepted {
            do throws(PageStoreError) {
                try pool.writePage(page, at: slot)
            } catch {
                guard case .memoryLimitExceeded = error else { throw error }
                counters.rejectAllocFail.add(1, ordering: .relaxed)
                reachedFull.store(true, ordering: .relaxed)
                accepted = false
            }
        }
        if accepted {
            if !configuration.storeIncompressible, (try? pool.objectSize(slot)) == pageSize,
                storeToFile(page, slot)
            {
                // Incompressible and not kept raw: the file has it now.
                pool.discard(slot)
                counters.rejectCompressPoor.add(1, ordering: .relaxed)
                finishFileStore(slot, old: old, poolDropped: true)
                return
            }
            if old == .file { releaseFileBlock(slot) }
            states.setLocation(slot, .pool)
            lru.withLock { $0.pushFront(slot) }
            return
        }
        // Refused by the pool: straight to the file.
        guard storeToFile(page, slot) else {
            throw .io(errno: lastWriteErrno.load(ordering: .relaxed), operation: "store of slot \(slot) to the backing file (the pool refused it)")
        }
        if old == .pool { pool.discard(slot) }
        finishFileStore(slot, old: old, poolDropped: old == .pool)
    }

    private let lastWriteErrno = Atomic<Int32>(0)

    /// Writes `page` to `slot`'s block; records its checksum. Counts a failure and returns false.
    @inline(__always)
    private func storeToFile(_ page: UnsafeRawBufferPointer, _ slot: Int) -> Bool {
        do throws(PageStoreError) {
            try file.writeBlock(page, at: slot)
        } catch {
            counters.failedWrites.add(1, ordering: .relaxed)
            if case .io(let code, _) = error { lastWriteErrno.store(code, ordering: .relaxed) }
            return false
        }
        checksums?.record(page, for: slot)
        return true
    }

    /// State changes after a page went to the file (slot lock held).
    @inline(__always)
    private func finishFileStore(_ slot: Int, old: SlotLocation, poolDropped: Bool) {
        if poolDropped { lru.withLock { $0.remove(slot) } }
        if old != .file { counters.pagesInFile.add(1, ordering: .relaxed) }
        counters.fileStores.add(1, ordering: .relaxed)
        states.setLocation(slot, .file)
    }

    /// With ``FrontswapConfiguration/LimitPolicy/rejectNewest``: refused stores between two
    /// compactions of the pool.
    static let compactEvery = 1024

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
                    _ = pool.compact()
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
    /// - Throws: ``PageStoreError/emptySlot(slot:)``; `.io` when the file read fails and
    ///   ``PageStoreError/corrupt(slot:reason:)`` when its checksum (or the pool's
    ///   decompression) fails: nothing is freed, `failed_reads` counts it, a retry may succeed.
    public func readPage(at slot: Int, into buffer: UnsafeMutableRawBufferPointer) throws(PageStoreError) {
        try check(slot, buffer.count)
        states.lock(slot)
        defer { states.unlock(slot) }
        switch states.location(slot) {
        case .empty:
            throw .emptySlot(slot: slot)
        case .pool:
            do throws(PageStoreError) { try pool.readPage(at: slot, into: buffer) } catch {
                counters.failedReads.add(1, ordering: .relaxed)
                throw error
            }
            states.markReferenced(slot)
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

    // MARK: Free

    /// The exclusive-load hook: the swap layer installed the page it read from `slot` (a
    /// swap-in, single owner, page now dirty) and frees the slot; the cache drops the pool
    /// entry and the file block. Counts `notify_free`; a busy slot counts `miss_free` and
    /// keeps its copy until it is overwritten or discarded.
    public func slotFreeNotify(_ slot: Int) {
        guard slot >= 0 && slot < slotCount else { return }
        counters.notifyFree.add(1, ordering: .relaxed)
        guard states.tryLock(slot) else {
            counters.missFree.add(1, ordering: .relaxed)
            return
        }
        if drop(slot) == .pool { counters.exclusiveLoads.add(1, ordering: .relaxed) }
        states.unlock(slot)
    }

    /// zswap_invalidate: the swap slot was freed; drops the pool entry and the file block.
    /// Out-of-range slots are ignored.
    public func discard(_ slot: Int) {
        guard slot >= 0 && slot < slotCount else { return }
        states.lock(slot)
        if drop(slot) != .empty { counters.invalidates.add(1, ordering: .relaxed) }
        states.unlock(slot)
    }

    /// Empties `slot` (lock held) and returns where its page was.
    @inline(__always)
    private func drop(_ slot: Int) -> SlotLocation {
        let old = states.location(slot)
        switch old {
        case .empty: return old
        case .pool:
            lru.withLock { $0.remove(slot) }
            pool.discard(slot)
        case .file:
            releaseFileBlock(slot)
        }
        states.setLocation(slot, .empty)
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
        let mm = pool.mmStat
        s.storedPages = mm.origDataSize / pageSize
        s.poolTotalSize = mm.memUsedTotal
        s.poolLimit = poolLimitBytes
        s.acceptThreshold = acceptThresholdBytes
        s.writtenBackPages = counters.writtenBack.load(ordering: .relaxed)
        s.rejectReclaimFail = counters.rejectReclaimFail.load(ordering: .relaxed)
        s.rejectCompressPoor = counters.rejectCompressPoor.load(ordering: .relaxed)
        s.rejectAllocFail = counters.rejectAllocFail.load(ordering: .relaxed)
        s.rejectPoolFull = counters.rejectPoolFull.load(ordering: .relaxed)
        s.poolLimitHit = counters.poolLimitHit.load(ordering: .relaxed)
        s.sameFilledPages = mm.samePages
        s.rawPages = mm.hugePages
        s.loads = counters.loads.load(ordering: .relaxed)
        s.exclusiveLoads = counters.exclusiveLoads.load(ordering: .relaxed)
        s.fileLoads = counters.fileLoads.load(ordering: .relaxed)
        s.fileStores = counters.fileStores.load(ordering: .relaxed)
        s.pagesInFile = counters.pagesInFile.load(ordering: .relaxed)
        s.invalidates = counters.invalidates.load(ordering: .relaxed)
        s.failedReads = counters.failedReads.load(ordering: .relaxed)
        s.failedWrites = counters.failedWrites.load(ordering: .relaxed)
        s.notifyFree = counters.notifyFree.load(ordering: .relaxed)
        s.missFree = counters.missFree.load(ordering: .relaxed)
        s.failedPunches = counters.failedPunches.load(ordering: .relaxed)
        s.file = file.ioCounters
        return s
    }

    /// The counters in the shared vocabulary: pool figures from mm_stat, `writtenBack`,
    /// `fileReads` (loads served by the file), `failedReads`/`failedWrites` of the cache.
    public var statistics: BackendStatistics {
        let z = frontswapStatistics
        let mm = pool.mmStat
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
    /// Verifies the cache's invariants: slot states, LRU links, the pool's own, and that the
    /// LRU holds exactly the slots in the pool. Call only while no other operation runs.
    public func checkInvariants() {
        states.checkInvariants()
        pool.checkInvariants()
        var inPool = 0, inFile = 0
        lru.withLock { list in
            list.checkInvariants()
            for slot in 0..<slotCount {
                let location = states.location(slot)
                precondition(list.contains(slot) == (location == .pool), "slot \(slot) in \(location) but LRU membership \(list.contains(slot))")
                if location == .pool { inPool += 1 }
                if location == .file { inFile += 1 }
            }
        }
        precondition(inPool * pageSize == pool.mmStat.origDataSize, "\(inPool) slots in the pool, pool holds \(pool.mmStat.origDataSize / pageSize) pages")
        precondition(inFile == counters.pagesInFile.load(ordering: .relaxed), "\(inFile) slots in the file, counter says \(counters.pagesInFile.load(ordering: .relaxed))")
    }
    #endif
}
