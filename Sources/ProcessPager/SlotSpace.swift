import PageStore
import SecondTier
import Synchronization
import SystemSupport
import ZRAM
import ZSwap

/// What a chunk's store writes back to, closed with the store.
public enum ChunkTier: Sendable {
    /// Nothing: a zram device without writeback.
    case none
    /// A file the store made its own tier over (`zswap:FILE`, `--writeback FILE`).
    case file(BackingFile)
    /// A second tier opened from `--tier` (a file or a cluster, maybe encrypted).
    case opened(OpenedTier)

    /// One line naming it, or nil for ``none``.
    var label: String? {
        switch self {
        case .none: nil
        case .file(let file): "file \(file.path)"
        case .opened(let tier): tier.label
        }
    }
}

/// One store of 65,536 swap slots: an in-process zram device, or a zswap-style cache in front of
/// a file or a second tier. An enum, not an existential, so the per-page calls are direct.
public enum SlotStore: Sendable {
    /// A `ZramDevice`, with what it writes back to (closed with the store).
    case zram(ZramDevice, ChunkTier)
    /// A `FrontswapCache` over its backing file or tier (closed with the store).
    case zswap(FrontswapCache, ChunkTier)

    @inline(__always)
    func write(_ page: UnsafeRawBufferPointer, at slot: Int) throws(PageStoreError) {
        switch self {
        case .zram(let device, _): try device.writePage(page, at: slot)
        case .zswap(let cache, _): try cache.writePage(page, at: slot)
        }
    }

    @inline(__always)
    func read(at slot: Int, into buffer: UnsafeMutableRawBufferPointer) throws(PageStoreError) {
        switch self {
        case .zram(let device, _): try device.readPage(at: slot, into: buffer)
        case .zswap(let cache, _): try cache.readPage(at: slot, into: buffer)
        }
    }

    @inline(__always)
    func free(_ slot: Int, swapIn: Bool) {
        switch self {
        case .zram(let device, _): if swapIn { device.slotFreeNotify(slot) } else { device.discard(slot) }
        case .zswap(let cache, _): if swapIn { cache.slotFreeNotify(slot) } else { cache.discard(slot) }
        }
    }

    /// The store's counters.
    public var statistics: BackendStatistics {
        switch self {
        case .zram(let device, _): device.statistics
        case .zswap(let cache, _): cache.statistics
        }
    }

    /// The second tier's counters, or nil without one.
    var tierStatistics: PageTierStatistics? {
        switch self {
        case .zram(let device, _): device.tierStatistics
        case .zswap(let cache, _): cache.tier.tierStatistics
        }
    }

    /// What the store writes back to.
    var chunkTier: ChunkTier {
        switch self {
        case .zram(_, let tier), .zswap(_, let tier): tier
        }
    }

    /// Compacts the store's pool (`zs_compact`) when the memory it holds exceeds the compressed
    /// bytes it stores by more than `wastePercent` percent (and by at least 1 MiB): the holes
    /// that swap-ins and frees leave in its spans. Safe beside reads, writes and frees.
    /// - Returns: the system pages (4 KiB) freed; 0 when the pool was not worth compacting.
    func compactIfWasteful(wastePercent: Int) -> Int {
        let figures = statistics
        let waste = figures.memUsedTotal - figures.comprDataSize
        guard waste >= 1 << 20, waste * 100 > figures.memUsedTotal * wastePercent else { return 0 }
        switch self {
        case .zram(let device, _): return device.compact()
        case .zswap(let cache, _): return cache.compact()
        }
    }

    /// Memory the store holds beside its pool: the slot table and the pool's descriptors.
    var metadataBytes: Int {
        switch self {
        case .zram(let device, _): device.slotTableBytes + device.poolMetadataBytes
        case .zswap(let cache, _): cache.slotCount * 16
        }
    }

    /// Stops the store's tier writeback thread, then closes its tier (a cluster's keys are
    /// deleted, a file closed). Returns what could not be cleaned up, or nil. Safe to call
    /// again: a closed tier stays closed.
    @discardableResult
    func close() -> String? {
        switch self {
        case .zram(let device, _): device.stopTierWriteback()
        case .zswap(let cache, _): cache.stopTierWriteback()
        }
        switch chunkTier {
        case .none: return nil
        case .file(let file):
            file.close()
            return nil
        case .opened(let tier):
            do { try tier.close() } catch { return "\(error)" }
            return nil
        }
    }
}

/// The pager's swap slots: a growing set of ``SlotStore`` chunks of 65,536 slots each, with a
/// use count per slot (the kernel's swap_map: a slot shared by a parent and its forked child has
/// a count of 2).
///
/// A zram device commits its slot table and pool descriptors when it is made (about 40 bytes per
/// slot), so one device sized for the largest program would cost memory up front; chunks are
/// made as slots run out instead, and slots are handed out lowest chunk first so the pools stay
/// dense.
///
/// **Memory and ownership.** The chunk array (``maximumChunks`` references) and each chunk's use
/// counts (2 bytes per slot) are allocated here and freed in `deinit`; a chunk lives until the
/// space is destroyed. Chunks are appended by the allocating thread only and published through
/// ``chunkCount`` (release), so readers on other threads see only complete chunks.
///
/// **Threads.** ``allocate()`` is called by one thread (the evictor). ``retain(_:)``,
/// ``release(_:swapIn:)``, reads and writes may come from any thread; a slot's bytes are written
/// only by the thread that allocated it, before any other thread learns its number.
public final class SlotSpace: @unchecked Sendable {
    // @unchecked Sendable: chunks are write-once and published atomically; counts are atomics.

    /// Slots per chunk.
    public static let chunkSlots = 1 << 16
    static let chunkShift = 16

    /// The most chunks this space makes.
    public let maximumChunks: Int
    private let makeStore: @Sendable (Int) throws -> SlotStore
    private let chunks: UnsafeMutablePointer<Chunk?>
    private let published = Atomic<Int>(0)
    private var allocationChunk = 0  // the allocating thread's hint

    final class Chunk: @unchecked Sendable {
        // @unchecked Sendable: counts are atomics; cursor is used by the allocating thread only.
        let store: SlotStore
        let counts: UnsafeMutablePointer<Atomic<UInt16>>
        let used = Atomic<Int>(0)
        var cursor = 0

        init(store: SlotStore) {
            self.store = store
            counts = .allocate(capacity: SlotSpace.chunkSlots)
            for i in 0..<SlotSpace.chunkSlots { (counts + i).initialize(to: Atomic<UInt16>(0)) }
        }

        deinit {
            counts.deinitialize(count: SlotSpace.chunkSlots)
            counts.deallocate()
            store.close()
        }
    }

    /// A space that makes chunk `i` with `makeStore(i)` when it needs it, up to `maximumChunks`.
    public init(maximumChunks: Int, makeStore: @escaping @Sendable (Int) throws -> SlotStore) {
        precondition(maximumChunks > 0, "at least one chunk")
        self.maximumChunks = maximumChunks
        self.makeStore = makeStore
        chunks = .allocate(capacity: maximumChunks)
        chunks.initialize(repeating: nil, count: maximumChunks)
    }

    deinit {
        chunks.deinitialize(count: maximumChunks)
        chunks.deallocate()
    }

    /// Chunks made so far.
    public var chunkCount: Int { published.load(ordering: .acquiring) }

    @inline(__always)
    private func chunk(for slot: Int) -> Chunk {
        chunks[slot >> Self.chunkShift].unsafelyUnwrapped
    }

    /// Makes the first chunk now, if it is not made yet, so that a store that cannot be made (a
    /// second tier that cannot be opened) fails before the program runs rather than at its first
    /// eviction. Throws what making the chunk threw. Allocating thread only, or before it runs.
    public func makeFirstChunk() throws {
        guard chunkCount == 0 else { return }
        let chunk = Chunk(store: try makeStore(0))
        chunks.pointee = chunk
        published.store(1, ordering: .releasing)
    }

    /// A free slot with a use count of 1, or nil when every chunk is full and no more can be
    /// made. Throws what making a new chunk threw. Allocating thread only.
    public func allocate() throws -> Int? {
        let count = chunkCount
        var index = min(allocationChunk, max(0, count - 1))
        // Lowest chunk with room first: slots freed in low chunks are reused before high ones.
        if count > 0 {
            for candidate in 0..<count where chunks[candidate].unsafelyUnwrapped.used.load(ordering: .relaxed) < Self.chunkSlots {
                index = candidate
                break
            }
            if let slot = allocate(in: index) { return slot }
            for candidate in 0..<count where candidate != index {
                if let slot = allocate(in: candidate) { return slot }
            }
        }
        guard count < maximumChunks else { return nil }
        let chunk = Chunk(store: try makeStore(count))
        (chunks + count).pointee = chunk
        published.store(count + 1, ordering: .releasing)
        return allocate(in: count)
    }

    private func allocate(in index: Int) -> Int? {
        let chunk = chunks[index].unsafelyUnwrapped
        guard chunk.used.load(ordering: .relaxed) < Self.chunkSlots else { return nil }
        var position = chunk.cursor
        for _ in 0..<Self.chunkSlots {
            if chunk.counts[position].load(ordering: .relaxed) == 0,
                chunk.counts[position].compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged
            {
                chunk.used.add(1, ordering: .relaxed)
                chunk.cursor = (position + 1) & (Self.chunkSlots - 1)
                allocationChunk = index
                return index << Self.chunkShift | position
            }
            position = (position + 1) & (Self.chunkSlots - 1)
        }
        return nil
    }

    /// A use count held while the last user's release frees the slot's copy: neither free to
    /// allocate nor alive to retain.
    static let freeing = UInt16.max

    /// Adds a user to `slot` (a forked child now shares it). The caller holds a use of it.
    @inline(__always)
    public func retain(_ slot: Int) {
        chunk(for: slot).counts[slot & (Self.chunkSlots - 1)].add(1, ordering: .relaxed)
    }

    /// Adds a user to `slot` if it has one now, for a caller that holds no use of it (a slot
    /// number read from another process's page table, which may be freed meanwhile). Returns
    /// false for a free slot or one being freed. The slot may have been freed and handed out
    /// again since its number was read: the caller checks its bytes before relying on them.
    public func retainIfUsed(_ slot: Int) -> Bool {
        guard slot >> Self.chunkShift < chunkCount else { return false }
        let count = chunk(for: slot).counts + (slot & (Self.chunkSlots - 1))
        while true {
            let current = count.pointee.load(ordering: .acquiring)
            guard current != 0, current < Self.freeing - 1 else { return false }
            if count.pointee.compareExchange(expected: current, desired: current + 1, ordering: .acquiringAndReleasing).exchanged {
                return true
            }
        }
    }

    /// Drops a user of `slot`; the last one frees the stored copy. `swapIn`: the page was just
    /// installed from this slot (the store counts a slot free notify, `notify_free`); otherwise
    /// the slot is discarded (the page was unmapped or overwritten).
    @inline(__always)
    public func release(_ slot: Int, swapIn: Bool) {
        let chunk = chunk(for: slot)
        let index = slot & (Self.chunkSlots - 1)
        while true {
            let count = chunk.counts[index].load(ordering: .acquiring)
            precondition(count > 0 && count != Self.freeing, "released a free slot")
            if count == 1 {
                // The last user: mark it, so that no retainIfUsed can add a user while the copy
                // is freed, and free the copy before the slot can be handed out again.
                guard chunk.counts[index].compareExchange(expected: 1, desired: Self.freeing, ordering: .acquiringAndReleasing).exchanged
                else { continue }
                chunk.store.free(index, swapIn: swapIn)
                chunk.counts[index].store(0, ordering: .releasing)
                chunk.used.subtract(1, ordering: .relaxed)
                return
            }
            if chunk.counts[index].compareExchange(expected: count, desired: count - 1, ordering: .acquiringAndReleasing).exchanged {
                return
            }
        }
    }

    /// The use count of `slot`.
    public func useCount(_ slot: Int) -> Int {
        Int(chunk(for: slot).counts[slot & (Self.chunkSlots - 1)].load(ordering: .relaxed))
    }

    /// Stores `page` in `slot`. Only the slot's allocating thread writes, before sharing it.
    @inline(__always)
    public func write(_ page: UnsafeRawBufferPointer, at slot: Int) throws(PageStoreError) {
        try chunk(for: slot).store.write(page, at: slot & (Self.chunkSlots - 1))
    }

    /// Reads `slot` into `buffer`; never frees.
    @inline(__always)
    public func read(_ slot: Int, into buffer: UnsafeMutableRawBufferPointer) throws(PageStoreError) {
        try chunk(for: slot).store.read(at: slot & (Self.chunkSlots - 1), into: buffer)
    }

    /// Slots in use (use count > 0), over all chunks.
    public var usedSlots: Int {
        var total = 0
        for i in 0..<chunkCount { total += chunks[i].unsafelyUnwrapped.used.load(ordering: .relaxed) }
        return total
    }

    /// Compacts each chunk's pool whose holes exceed `wastePercent` percent of its memory (see
    /// ``SlotStore``'s `compactIfWasteful`); the system pages freed in all.
    public func compactIfWasteful(wastePercent: Int) -> Int {
        var freed = 0
        for i in 0..<chunkCount { freed += chunks[i].unsafelyUnwrapped.store.compactIfWasteful(wastePercent: wastePercent) }
        return freed
    }

    /// The chunks' counters summed (mem_used_max is the sum of each chunk's maximum).
    public var statistics: BackendStatistics {
        var total = BackendStatistics()
        for i in 0..<chunkCount { total.add(chunks[i].unsafelyUnwrapped.store.statistics) }
        return total
    }

    /// The chunks' second-tier counters summed, or nil when no chunk has a second tier.
    public var tierStatistics: PageTierStatistics? {
        var total: PageTierStatistics?
        for i in 0..<chunkCount {
            guard let chunk = chunks[i].unsafelyUnwrapped.store.tierStatistics else { continue }
            var sum = total ?? PageTierStatistics()
            sum.add(chunk)
            total = sum
        }
        return total
    }

    /// Each chunk's second tier, named (a cluster tier has a namespace per chunk).
    public var tierLabels: [String] {
        (0..<chunkCount).compactMap { chunks[$0].unsafelyUnwrapped.store.chunkTier.label }
    }

    /// Closes every chunk's second tier (see ``SlotStore``'s `close`); returns what could not be
    /// cleaned up. Call once nothing reads or writes the slots any more.
    public func closeTiers() -> [String] {
        (0..<chunkCount).compactMap { chunks[$0].unsafelyUnwrapped.store.close() }
    }

    /// Memory the chunks hold beside their pools (slot tables, descriptors, use counts).
    public var metadataBytes: Int {
        var total = 0
        for i in 0..<chunkCount { total += chunks[i].unsafelyUnwrapped.store.metadataBytes + Self.chunkSlots * 2 }
        return total
    }

    /// Debug-only: each chunk's used count matches its non-zero use counts.
    public func checkInvariants() {
        #if DEBUG
        for i in 0..<chunkCount {
            let chunk = chunks[i].unsafelyUnwrapped
            var used = 0
            for s in 0..<Self.chunkSlots where chunk.counts[s].load(ordering: .relaxed) > 0 { used += 1 }
            precondition(used == chunk.used.load(ordering: .relaxed), "chunk \(i): \(used) slots in use, counted \(chunk.used.load(ordering: .relaxed))")
        }
        #endif
    }
}

extension BackendStatistics {
    /// Adds `other`'s counters to these (the sum over a space's chunks).
    mutating func add(_ other: BackendStatistics) {
        for field in [\BackendStatistics.storedPages, \.origDataSize, \.comprDataSize, \.memUsedTotal, \.memUsedMax,
            \.samePages, \.hugePages, \.failedReads, \.failedWrites, \.notifyFree, \.missFree, \.writtenBack, \.fileReads]
        {
            self[keyPath: field] += other[keyPath: field]
        }
    }
}

extension PageTierStatistics {
    /// Adds `other`'s counters to these (the sum over a space's chunks).
    mutating func add(_ other: PageTierStatistics) {
        for field in [\PageTierStatistics.storedObjects, \.storedBytes, \.acknowledgedWrites, \.refusedWrites, \.reads,
            \.failedReads, \.frees, \.pendingFrees]
        {
            self[keyPath: field] += other[keyPath: field]
        }
    }
}
