import Synchronization
import SystemSupport

/// A backing file as a ``PageTier``: the second tier zram's writeback and the frontswap cache
/// use when they are given a file. Each object takes one block (zero-padded); its length, and
/// optionally its CRC-32C, are kept in memory. Handles are block + 1 (0 is never a handle).
///
/// ```swift
/// let file = try BackingFile.temporary(blockCount: 1024)
/// let tier = PageFileTier(file: file, blockCount: 1024, checksums: true)
/// try tier.write(&batch)      // acknowledged once pwrite returned: the page cache holds it
/// ```
///
/// Writes are synchronous, so nothing lands late and a freed block is reused at once
/// (``handlesAreReused``), lowest block first (a ``BlockAllocator``). A free punches the block out
/// of the file when ``punchFreedBlocks`` is set (a failed punch is counted, the block is still
/// reused): a preallocated swap file keeps its blocks instead.
///
/// Every call is async-signal-safe (``isAsyncSignalSafe``): `pread`, `pwrite`, `fallocate`, the
/// allocator's lock word and atomics, no allocation on the write and page-sized read paths.
/// Writes pad each object in place in the batch's own memory; a read into a buffer of at least
/// a block reads the block straight into it (the object is its first bytes).
///
/// **Memory and ownership.** The file belongs to the caller (the tier never closes it). The tier
/// owns a table of `blockCount` lengths, allocated in `init` and freed in `deinit`, and, when
/// checksums are enabled, a ``PageChecksums`` table of as many entries. An entry is written by the write that took its block, before the
/// handle is handed out, and read only by reads of that handle: the caller holds a handle until it
/// frees it, so no entry is read while it changes (the same ownership the file's blocks follow).
///
/// **Thread safety.** The allocator and counters are thread-safe; the tables follow the handle's
/// owner as said above, which is what makes the `@unchecked Sendable` safe.
public final class PageFileTier: PageTier, @unchecked Sendable {
    /// The file.
    public let file: any PageFile
    /// How many blocks of the file the tier uses.
    public let blockCount: Int
    /// Whether a freed block is punched out of the file (`fallocate`).
    public let punchFreedBlocks: Bool
    /// The largest object: the file's block size.
    public var maxObjectSize: Int { file.pageSize }
    /// A freed block is reused by the next write.
    public var handlesAreReused: Bool { true }
    /// `pread`, `pwrite` and `fallocate` on preallocated tables: safe in a signal handler.
    public var isAsyncSignalSafe: Bool { true }

    private let blocks: BlockAllocator
    /// Taken around every allocator call: ThreadSanitizer cannot see `Mutex` on Linux and reports
    /// the allocator's bitmap as racing; this lock's atomics it sees. Uncontended it costs one
    /// compare-and-swap.
    private let blocksLock = SpinLock()
    private let lengths: UnsafeMutablePointer<Int32>
    /// The CRC-32C of each stored object, when checksums are on: the one checksum table type.
    private let checksums: PageChecksums?
    private let stored = Atomic<Int>(0)
    private let storedBytes = Atomic<Int>(0)
    private let acknowledged = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)
    private let reads = Atomic<Int>(0)
    private let failedReads = Atomic<Int>(0)
    private let frees = Atomic<Int>(0)
    private let failedPunches = Atomic<Int>(0)

    /// A tier over blocks `0..<blockCount` of `file`; with `checksums`, every read verifies a
    /// CRC-32C recorded at write time (``PageChecksums``, 8 bytes per block); with `punchFreedBlocks`, freed blocks
    /// are punched out of the file.
    public init(file: any PageFile, blockCount: Int, checksums: Bool = true, punchFreedBlocks: Bool = true) {
        precondition(blockCount > 0, "a file tier needs at least one block")
        self.file = file
        self.blockCount = blockCount
        self.punchFreedBlocks = punchFreedBlocks
        blocks = BlockAllocator(capacity: blockCount)
        lengths = .allocate(capacity: blockCount)
        lengths.initialize(repeating: -1, count: blockCount)
        self.checksums = checksums ? PageChecksums(count: blockCount) : nil
    }

    deinit {
        lengths.deallocate()
    }

    /// Writes each object to a free block; acknowledges it once the write returned. A full file
    /// (``PageTierError/full(capacity:)``) or a failed write refuses the objects concerned
    /// (``PageTierBatch/failure`` says why for the first, ``PageTierBatch/refusal(at:)`` for
    /// each: `.writeFailed` or `.noRoom`). A failed write's block goes back to the allocator
    /// (not punched: nothing was stored there), so the next object tries it again.
    ///
    /// - Throws: ``PageTierError/objectTooLarge(size:limit:)`` for a batch made for objects
    ///   larger than the block size.
    public func write(_ batch: inout PageTierBatch) throws(PageTierError) {
        guard batch.maxObjectSize <= maxObjectSize else {
            throw .objectTooLarge(size: batch.maxObjectSize, limit: maxObjectSize)
        }
        batch.resetResults()
        var refusals = 0
        for i in 0..<batch.count {
            guard let block = blocksLock.withLock({ () -> Int? in try? blocks.allocate() }) else {
                refusals += 1
                batch.refuse(i, because: .noRoom)
                if batch.failure == nil { batch.failure = .full(capacity: blockCount) }
                continue
            }
            let length = batch.object(at: i).count
            let failure = batch.withPaddedObject(at: i, to: file.pageSize) { (page) -> PageStoreError? in
                do throws(PageStoreError) { try file.writeBlock(page, at: block) } catch { return error }
                return nil
            }
            if let failure {
                blocksLock.withLock { _ = blocks.free(block) }
                refusals += 1
                batch.refuse(i, because: .writeFailed)
                if batch.failure == nil {
                    if case .io(let code, let operation) = failure {
                        batch.failure = .io(errno: code, operation: operation)
                    } else {
                        batch.failure = .notAcknowledged("block \(block): \(failure)")
                    }
                }
                continue
            }
            lengths[block] = Int32(length)
            checksums?.record(batch.object(at: i), for: block)
            batch.acknowledge(i, as: PageTierHandle(rawValue: UInt64(block) + 1))
            storedBytes.add(length, ordering: .relaxed)
        }
        acknowledged.add(batch.count - refusals, ordering: .relaxed)
        stored.add(batch.count - refusals, ordering: .relaxed)
        refused.add(refusals, ordering: .relaxed)
    }

    /// Reads the object under `handle` (and checks its checksum when enabled). A buffer of at
    /// least a block gets the whole block read straight into it (the object is its first bytes).
    ///
    /// - Throws: ``PageTierError/missing(handle:)`` for a handle that names no stored object,
    ///   ``PageTierError/io(errno:operation:)``, ``PageTierError/corrupt(handle:reason:)``,
    ///   ``PageTierError/bufferTooSmall(needed:available:)``. Nothing is freed.
    public func read(_ handle: PageTierHandle, into buffer: UnsafeMutableRawBufferPointer) throws(PageTierError) -> Int {
        do {
            let length = try readObject(handle, into: buffer)
            reads.add(1, ordering: .relaxed)
            return length
        } catch {
            failedReads.add(1, ordering: .relaxed)
            throw error
        }
    }

    private func readObject(_ handle: PageTierHandle, into buffer: UnsafeMutableRawBufferPointer) throws(PageTierError) -> Int {
        let block = Int(truncatingIfNeeded: handle.rawValue &- 1)
        guard handle.rawValue > 0, block < blockCount, lengths[block] >= 0,
            blocksLock.withLock({ blocks.isAllocated(block) })
        else {
            throw .missing(handle: handle.rawValue)
        }
        let length = Int(lengths[block])
        guard buffer.count >= length else { throw .bufferTooSmall(needed: length, available: buffer.count) }
        let pageSize = file.pageSize
        if buffer.count >= pageSize {
            try readBlock(block, handle: handle, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<pageSize]), length: length)
            return length
        }
        // A buffer smaller than a block (not a page path): through a block-sized bounce buffer.
        let page = UnsafeMutableRawBufferPointer.allocate(byteCount: pageSize, alignment: 4096)
        defer { page.deallocate() }
        try readBlock(block, handle: handle, into: page, length: length)
        if length > 0 { buffer.baseAddress!.copyMemory(from: page.baseAddress!, byteCount: length) }
        return length
    }

    /// Reads `block` into `page` (one block) and checks the first `length` bytes' checksum.
    private func readBlock(_ block: Int, handle: PageTierHandle, into page: UnsafeMutableRawBufferPointer, length: Int) throws(PageTierError) {
        do throws(PageStoreError) { try file.readBlock(block, into: page) } catch {
            if case .io(let code, let operation) = error { throw .io(errno: code, operation: operation) }
            throw .corrupt(handle: handle.rawValue, reason: "\(error)")
        }
        do throws(PageStoreError) {
            try checksums?.verify(UnsafeRawBufferPointer(rebasing: page[0..<length]), for: block, slot: Int(handle.rawValue))
        } catch {
            throw .corrupt(handle: handle.rawValue, reason: "\(error)")
        }
    }

    /// Frees the blocks of `handles` at once (punched out of the file when
    /// ``punchFreedBlocks``, back to the allocator). Handles that name no stored object are
    /// ignored.
    public func free(_ handles: UnsafeBufferPointer<PageTierHandle>) {
        for handle in handles {
            let block = Int(truncatingIfNeeded: handle.rawValue &- 1)
            guard handle.rawValue > 0, block < blockCount, lengths[block] >= 0,
                blocksLock.withLock({ blocks.isAllocated(block) })
            else { continue }
            storedBytes.subtract(Int(lengths[block]), ordering: .relaxed)
            lengths[block] = -1
            checksums?.clear(block)
            if punchFreedBlocks {
                do { try file.punchHole(at: block, count: 1) } catch { failedPunches.add(1, ordering: .relaxed) }
            }
            blocksLock.withLock { _ = blocks.free(block) }
            stored.subtract(1, ordering: .relaxed)
            frees.add(1, ordering: .relaxed)
        }
    }

    /// The counters every tier has.
    public var tierStatistics: PageTierStatistics {
        var s = PageTierStatistics()
        s.storedObjects = stored.load(ordering: .relaxed)
        s.storedBytes = storedBytes.load(ordering: .relaxed)
        s.acknowledgedWrites = acknowledged.load(ordering: .relaxed)
        s.refusedWrites = refused.load(ordering: .relaxed)
        s.reads = reads.load(ordering: .relaxed)
        s.failedReads = failedReads.load(ordering: .relaxed)
        s.frees = frees.load(ordering: .relaxed)
        return s
    }

    /// Frees whose hole punch failed (the blocks were reused all the same).
    public var failedPunchCount: Int { failedPunches.load(ordering: .relaxed) }

    /// Blocks in use now.
    public var allocatedBlocks: Int { blocksLock.withLock { blocks.allocatedCount } }

    /// Whether `handle` names a stored object now (a block in use).
    public func isStored(_ handle: PageTierHandle) -> Bool {
        let block = Int(truncatingIfNeeded: handle.rawValue &- 1)
        return handle.rawValue > 0 && block < blockCount && blocksLock.withLock { blocks.isAllocated(block) }
    }

    /// Checks that every stored block is allocated and every free one has no length; debug
    /// builds only (tests call it).
    public func checkInvariants() {
        #if DEBUG
        blocksLock.withLock { blocks.checkInvariants() }
        for block in 0..<blockCount {
            let allocated = blocksLock.withLock { blocks.isAllocated(block) }
            precondition((lengths[block] >= 0) == allocated, "block \(block): length \(lengths[block]) and allocation disagree")
            precondition(lengths[block] <= Int32(file.pageSize), "block \(block) records \(lengths[block]) bytes")
        }
        #endif
    }
}
