import PageCodecs
import PageStore
import Synchronization

/// An in-process compressed RAM device with the kernel zram's semantics.
///
/// A device has a fixed number of page slots (`disksize / pageSize`). Each slot is empty,
/// same-filled (one repeated word, kept in the slot table: no pool memory), compressed (an
/// object in the device's size-class pool), huge (stored raw, when compression does not get
/// below ``hugeClassSize``) or written back (reserved for the file tier). Pages go in and out
/// by slot (``writePage(_:at:)``, ``readPage(at:into:)``) or by 512-byte sectors
/// (``write(_:at:)``, ``read(into:at:)``), so the device can also serve as a block image.
///
/// ```swift
/// let device = try ZramDevice(ZramConfiguration(disksize: 64 << 20))
/// try device.writePage(page, at: 7)
/// try device.readPage(at: 7, into: buffer)
/// print(device.mmStat.line, terminator: "")
/// ```
///
/// **Memory and ownership.** The device owns its slot table (16 bytes per slot, one buffer,
/// ``slotTableBytes``), its pool (``ZsPool``: one reserved address range, spans returned to the
/// system when they empty) and its codec streams (two per core, made once). All of it lives
/// as long as the device; the store and load paths allocate nothing.
///
/// **Thread safety.** `@unchecked Sendable` because every shared field is guarded: a slot's
/// entry by the lock bit in its own word (compare-and-swap, as the kernel's ZRAM_LOCK), pool
/// classes by a spin lock each (``SpinLock``), codec streams by an atomic busy flag each, counters are atomics.
/// Operations on different slots run in parallel; operations on one slot are serialized.
/// Compression runs before the slot lock is taken, so a slot is locked only to swap handles.
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
    let counters = ZramCounters()
    let epoch: Int
    let compactionLock = SpinLock()

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
        streams = try CodecStreams(
            pageSize: page, count: max(2, 2 * SystemMemory.processorCount),
            primaryName: configuration.codec.description, makePrimary: makeCodec,
            secondaryName: configuration.secondaryCodec?.description ?? "secondary",
            makeSecondary: makeSecondaryCodec)
        table = SlotTable(count: slotCount)
        let classes = SizeClassTable(pageSize: page)
        // Every live span holds at least one object, and there is at most one object per slot
        // plus one in flight per stream (written before the old one is freed).
        let spans = slotCount + streams.count + classes.count + 64
        guard let pool = ZsPool(pageSize: page, maximumSpans: spans, memoryLimit: configuration.memLimit) else {
            throw .outOfAddressSpace(bytes: spans * SizeClassTable.maximumPagesPerSpan * page)
        }
        self.pool = pool
        hugeClassSize = classes.hugeClassSize
        epoch = SystemMemory.monotonicSeconds()
    }

    /// Memory of the slot table (16 bytes per slot), reported on its own, not in mem_used_total.
    public var slotTableBytes: Int { table.bytes }

    /// Memory of the pool's span descriptors, reported on its own, not in mem_used_total.
    public var poolMetadataBytes: Int { pool.metadataBytes }

    /// What the kernel's zram would hold from the system for the same stored objects: every live
    /// span counted whole, as zsmalloc allocates a zspage's pages all at once. This device
    /// commits a span's pages only as objects reach them, so its own `mem_used_total`
    /// (``mmStat``) is lower; use this figure to predict the kernel's.
    public var zsmallocEquivalentBytes: Int { pool.wholeSpanBytes }

    @inline(__always)
    var now: UInt32 { UInt32(truncatingIfNeeded: SystemMemory.monotonicSeconds() - epoch) }

    @inline(__always)
    func check(_ slot: Int) throws(PageStoreError) {
        guard slot >= 0 && slot < slotCount else { throw .slotOutOfRange(slot: slot, slotCount: slotCount) }
    }

    // MARK: SwapBackend

    /// Stores one page at `slot`, replacing its old contents only on success.
    ///
    /// A same-filled page costs no pool memory; a page that does not compress below
    /// ``hugeClassSize`` is stored raw.
    /// - Throws: ``PageStoreError/slotOutOfRange(slot:slotCount:)``,
    ///   ``PageStoreError/wrongPageSize(expected:actual:)``, or
    ///   ``PageStoreError/memoryLimitExceeded(limit:needed:)`` (the slot keeps its old page).
    public func writePage(_ page: UnsafeRawBufferPointer, at slot: Int) throws(PageStoreError) {
        try check(slot)
        guard page.count == pageSize else { throw .wrongPageSize(expected: pageSize, actual: page.count) }
        let index = streams.acquire()
        defer { streams.release(index) }
        try store(page, at: slot, using: streams.stream(index))
    }

    /// Reads the page at `slot` into `buffer`. Never frees; marks the slot accessed (not idle).
    ///
    /// - Throws: ``PageStoreError/emptySlot(slot:)`` for a slot that holds nothing,
    ///   ``PageStoreError/corrupt(slot:reason:)`` when the object fails to decompress.
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
        guard slot >= 0 && slot < slotCount else { return }
        counters.notifyFree.add(1, ordering: .relaxed)
        guard table.tryLock(slot) else {
            counters.missFree.add(1, ordering: .relaxed)
            return
        }
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
        s.storedPages = counters.pagesStored.load(ordering: .relaxed)
        s.origDataSize = mm.origDataSize
        s.comprDataSize = mm.comprDataSize
        s.memUsedTotal = mm.memUsedTotal
        s.memUsedMax = mm.memUsedMax
        s.samePages = mm.samePages
        s.hugePages = mm.hugePages
        s.failedReads = io.failedReads
        s.failedWrites = io.failedWrites
        s.notifyFree = io.notifyFree
        s.missFree = counters.missFree.load(ordering: .relaxed)
        return s
    }

    // MARK: Stats

    /// mm_stat, with the kernel's definitions (see ``ZramMMStat``).
    public var mmStat: ZramMMStat {
        ZramMMStat(
            origDataSize: counters.pagesStored.load(ordering: .relaxed) * pageSize,
            comprDataSize: counters.comprDataSize.load(ordering: .relaxed),
            memUsedTotal: pool.memUsed,
            memLimit: configuration.memLimit,
            memUsedMax: pool.memUsedMax,
            samePages: counters.samePages.load(ordering: .relaxed),
            pagesCompacted: counters.pagesCompacted.load(ordering: .relaxed),
            hugePages: counters.hugePages.load(ordering: .relaxed),
            hugePagesSince: counters.hugePagesSince.load(ordering: .relaxed))
    }

    /// io_stat.
    public var ioStat: ZramIOStat {
        ZramIOStat(
            failedReads: counters.failedReads.load(ordering: .relaxed),
            failedWrites: counters.failedWrites.load(ordering: .relaxed),
            notifyFree: counters.notifyFree.load(ordering: .relaxed))
    }

    /// bd_stat: all zero until the device gets a backing file.
    public var bdStat: ZramBDStat { ZramBDStat(count: 0, reads: 0, writes: 0) }

    /// debug_stat.
    public var debugStat: ZramDebugStat { ZramDebugStat(missFree: counters.missFree.load(ordering: .relaxed)) }

    /// Sets mem_used_max to the current mem_used_total (writing 0 to mem_used_max).
    public func resetMemUsedMax() { pool.resetMemUsedMax() }

    /// Frees every slot and zeroes every counter, as writing 1 to `reset` does. Safe to call
    /// while other threads use the device, though their pages then vanish too.
    public func reset() {
        for slot in 0..<slotCount {
            table.lock(slot)
            let old = detachLocked(slot)
            table.setAccessTime(slot, 0)
            table.unlock(slot)
            release(old)
        }
        counters.reset()
        pool.resetMemUsedMax()
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

    /// What a slot held before it was cleared: a pool object to free after the slot unlocks.
    struct Detached {
        var handle: UInt64
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
            counters.samePages.subtract(1, ordering: .relaxed)
            counters.pagesStored.subtract(1, ordering: .relaxed)
            return nil
        }
        if word & ZramSlotFlags.writtenBack.rawValue != 0 {
            counters.pagesStored.subtract(1, ordering: .relaxed)
            return nil
        }
        let size = Int(word & ZramSlotFlags.sizeMask)
        guard size != 0 else { return nil }
        if word & ZramSlotFlags.huge.rawValue != 0 { counters.hugePages.subtract(1, ordering: .relaxed) }
        counters.comprDataSize.subtract(size, ordering: .relaxed)
        counters.pagesStored.subtract(1, ordering: .relaxed)
        return Detached(handle: handle, classIndex: pool.classes.classIndex(forSize: size))
    }

    /// Frees a detached object (no slot lock held).
    @inline(__always)
    func release(_ old: Detached?) {
        if let old { pool.free(old.handle, inClass: old.classIndex) }
    }

    /// zram_write_page: same-filled check, compress into the stream's scratch, allocate, copy,
    /// then lock the slot only to swap the new object in; the old one is freed afterwards.
    func store(_ page: UnsafeRawBufferPointer, at slot: Int, using stream: CodecStream) throws(PageStoreError) {
        let time = now
        if let word = SameFilled.word(of: page) {
            table.lock(slot)
            let old = detachLocked(slot)
            table.setHandle(slot, word)
            table.setWord(slot, ZramSlotFlags.same.rawValue)
            table.setAccessTime(slot, time)
            table.unlock(slot)
            counters.samePages.add(1, ordering: .relaxed)
            counters.pagesStored.add(1, ordering: .relaxed)
            release(old)
            return
        }
        // Compress into the worst-case-sized scratch buffer, as zram does (2 pages): a codec's
        // unbounded path is its fast one; the huge check follows on the result.
        var size = pageSize
        var source = UnsafeRawPointer(page.baseAddress!)
        if let compressed = stream.primary.compress(page, into: stream.scratch), compressed > 0, compressed < hugeClassSize {
            size = compressed
            source = UnsafeRawPointer(stream.scratch.baseAddress!)
        }
        let huge = size == pageSize
        let classIndex = pool.classes.classIndex(forSize: size)
        guard let handle = pool.allocate(inClass: classIndex) else {
            counters.failedWrites.add(1, ordering: .relaxed)
            throw .memoryLimitExceeded(
                limit: configuration.memLimit, needed: pool.memUsed + pageSize)
        }
        pool.address(of: handle, inClass: classIndex).copyMemory(from: source, byteCount: size)
        table.lock(slot)
        let old = detachLocked(slot)
        table.setHandle(slot, handle)
        table.setWord(slot, UInt32(size) | (huge ? ZramSlotFlags.huge.rawValue : 0))
        table.setAccessTime(slot, time)
        table.unlock(slot)
        if huge {
            counters.hugePages.add(1, ordering: .relaxed)
            counters.hugePagesSince.add(1, ordering: .relaxed)
        }
        counters.comprDataSize.add(size, ordering: .relaxed)
        counters.pagesStored.add(1, ordering: .relaxed)
        release(old)
    }

    /// zram_read_page: under the slot lock, fill, copy or decompress into `buffer` (one page).
    /// An empty slot throws, or reads as zeros when `emptyIsError` is false (block semantics).
    func load(
        _ slot: Int, into buffer: UnsafeMutableRawBufferPointer, using stream: CodecStream, emptyIsError: Bool
    ) throws(PageStoreError) {
        let time = now
        table.lock(slot)
        let word = table.word(slot)
        let size = Int(word & ZramSlotFlags.sizeMask)
        if word & ZramSlotFlags.same.rawValue != 0 {
            SameFilled.fill(buffer, with: table.handle(slot))
        } else if size == 0 {
            table.unlock(slot)
            if emptyIsError { throw .emptySlot(slot: slot) }
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            return
        } else {
            let classIndex = pool.classes.classIndex(forSize: size)
            let object = UnsafeRawPointer(pool.address(of: table.handle(slot), inClass: classIndex))
            if word & ZramSlotFlags.huge.rawValue != 0 {
                buffer.baseAddress!.copyMemory(from: object, byteCount: pageSize)
            } else {
                let priority = Int((word >> ZramSlotFlags.priorityShift) & 3)
                var failure: String? = nil
                if let codec = stream.codec(priority: priority) {
                    do {
                        let produced = try codec.decompress(UnsafeRawBufferPointer(start: object, count: size), into: buffer)
                        if produced != pageSize { failure = "decompressed to \(produced) bytes, not \(pageSize)" }
                    } catch {
                        failure = error.description
                    }
                } else {
                    failure = "stored with codec priority \(priority), which this device has no codec for"
                }
                if let failure {
                    table.unlock(slot)
                    counters.failedReads.add(1, ordering: .relaxed)
                    throw .corrupt(slot: slot, reason: failure)
                }
            }
        }
        table.setWord(slot, word & ~ZramSlotFlags.idle.rawValue)
        table.setAccessTime(slot, time)
        table.unlock(slot)
    }

    #if DEBUG
    /// Verifies the device's invariants: slot table, pool, streams, and that the counters match
    /// what the slots hold. Call only while no other operation runs.
    public func checkInvariants() {
        table.checkInvariants()
        pool.checkInvariants()
        streams.checkInvariants()
        var stored = 0, same = 0, huge = 0, compressed = 0, objects = 0
        for slot in 0..<slotCount {
            let word = table.word(slot)
            guard word != 0 else { continue }
            stored += 1
            if word & ZramSlotFlags.same.rawValue != 0 { same += 1; continue }
            let size = Int(word & ZramSlotFlags.sizeMask)
            if word & ZramSlotFlags.huge.rawValue != 0 {
                huge += 1
                precondition(size == pageSize, "huge slot \(slot) has size \(size)")
            }
            compressed += size
            objects += 1
        }
        precondition(stored == counters.pagesStored.load(ordering: .relaxed), "pages_stored \(counters.pagesStored.load(ordering: .relaxed)) != \(stored) slots")
        precondition(same == counters.samePages.load(ordering: .relaxed), "same_pages counter != \(same) slots")
        precondition(huge == counters.hugePages.load(ordering: .relaxed), "huge_pages counter != \(huge) slots")
        precondition(compressed == counters.comprDataSize.load(ordering: .relaxed), "compr_data_size counter != \(compressed)")
        precondition(objects == pool.objectCount, "\(objects) slots hold objects, pool has \(pool.objectCount)")
    }
    #endif
}
