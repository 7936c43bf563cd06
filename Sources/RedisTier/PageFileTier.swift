import PageStore
import Synchronization

/// A backing file as a ``PageTier``: the proof that the file and the cluster sit behind the same
/// interface. Each object takes one block (zero-padded); its length, and optionally its CRC-32C,
/// are kept in memory. Handles are block + 1 (0 is never a handle).
///
/// ```swift
/// let file = try BackingFile.temporary(blockCount: 1024)
/// let tier = PageFileTier(file: file, blockCount: 1024, checksums: true)
/// try tier.write(&batch)      // acknowledged once pwrite returned: the page cache holds it
/// ```
///
/// Writes are synchronous, so nothing lands late and a freed block is reused at once
/// (``handlesAreReused``). A free punches the block out of the file (a failed punch is counted,
/// the block is still reused) and returns it to the ``BlockAllocator``.
///
/// **Memory and ownership.** The file belongs to the caller (the tier never closes it). The tier
/// owns two tables of `blockCount` entries (lengths, and checksums when enabled), allocated in
/// `init` and freed in `deinit`. An entry is written by the write that took its block, before the
/// handle is handed out, and read only by reads of that handle: the caller holds a handle until it
/// frees it, so no entry is read while it changes (the same ownership the file's blocks follow).
/// Page-sized scratch buffers live on the calling thread's stack for one call.
///
/// **Thread safety.** The allocator and counters are thread-safe; the tables follow the handle's
/// owner as said above, which is what makes the `@unchecked Sendable` safe.
public final class PageFileTier<File: PageFile>: PageTier, @unchecked Sendable {
    /// The file.
    public let file: File
    /// How many blocks of the file the tier uses.
    public let blockCount: Int
    /// The largest object: the file's block size.
    public var maxObjectSize: Int { file.pageSize }
    /// A freed block is reused by the next write.
    public var handlesAreReused: Bool { true }

    private let blocks: BlockAllocator
    private let lengths: UnsafeMutablePointer<Int32>
    private let checksums: UnsafeMutablePointer<UInt32>?
    private let stored = Atomic<Int>(0)
    private let storedBytes = Atomic<Int>(0)
    private let acknowledged = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)
    private let reads = Atomic<Int>(0)
    private let failedReads = Atomic<Int>(0)
    private let frees = Atomic<Int>(0)
    private let failedPunches = Atomic<Int>(0)

    /// A tier over blocks `0..<blockCount` of `file`; with `checksums`, every read verifies a
    /// CRC-32C recorded at write time (4 bytes per block).
    public init(file: File, blockCount: Int, checksums: Bool = true) {
        precondition(blockCount > 0, "a file tier needs at least one block")
        self.file = file
        self.blockCount = blockCount
        blocks = BlockAllocator(capacity: blockCount)
        lengths = .allocate(capacity: blockCount)
        lengths.initialize(repeating: -1, count: blockCount)
        if checksums {
            let table = UnsafeMutablePointer<UInt32>.allocate(capacity: blockCount)
            table.initialize(repeating: 0, count: blockCount)
            self.checksums = table
        } else {
            self.checksums = nil
        }
    }

    deinit {
        lengths.deallocate()
        checksums?.deallocate()
    }

    /// Writes each object to a free block; acknowledges it once the write returned. A full file
    /// or a failed write refuses the objects concerned (``PageTierBatch/failure`` says which).
    ///
    /// - Throws: ``PageTierError/objectTooLarge(size:limit:)`` for a batch made for objects
    ///   larger than the block size.
    public func write(_ batch: inout PageTierBatch) throws(PageTierError) {
        guard batch.maxObjectSize <= maxObjectSize else {
            throw .objectTooLarge(size: batch.maxObjectSize, limit: maxObjectSize)
        }
        batch.resetResults()
        var refusals = 0
        withUnsafeTemporaryAllocation(byteCount: file.pageSize, alignment: 4096) { page in
            for i in 0..<batch.count {
                guard let block = try? blocks.allocate() else {
                    refusals += 1
                    if batch.failure == nil { batch.failure = .notAcknowledged("the file's \(blockCount) blocks are all in use") }
                    continue
                }
                let object = batch.object(at: i)
                page.initializeMemory(as: UInt8.self, repeating: 0)
                if let source = object.baseAddress, object.count > 0 {
                    page.baseAddress!.copyMemory(from: source, byteCount: object.count)
                }
                do {
                    try file.writeBlock(UnsafeRawBufferPointer(page), at: block)
                } catch {
                    _ = blocks.free(block)
                    refusals += 1
                    if batch.failure == nil { batch.failure = .notAcknowledged("block \(block): \(error)") }
                    continue
                }
                lengths[block] = Int32(object.count)
                checksums?[block] = CRC32C.checksum(object)
                batch.acknowledge(i, as: PageTierHandle(rawValue: UInt64(block) + 1))
                storedBytes.add(object.count, ordering: .relaxed)
            }
        }
        acknowledged.add(batch.count - refusals, ordering: .relaxed)
        stored.add(batch.count - refusals, ordering: .relaxed)
        refused.add(refusals, ordering: .relaxed)
    }

    /// Reads the object under `handle` (and checks its checksum when enabled).
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
        let block = Int(truncatingIfNeeded: handle.rawValue) - 1
        guard handle.rawValue > 0, block < blockCount, blocks.isAllocated(block), lengths[block] >= 0 else {
            throw .missing(handle: handle.rawValue)
        }
        let length = Int(lengths[block])
        guard buffer.count >= length else { throw .bufferTooSmall(needed: length, available: buffer.count) }
        let result = withUnsafeTemporaryAllocation(byteCount: file.pageSize, alignment: 4096) { page -> PageTierError? in
            do throws(PageStoreError) { try file.readBlock(block, into: page) } catch {
                if case .io(let code, let operation) = error { return .io(errno: code, operation: operation) }
                return .corrupt(handle: handle.rawValue, reason: "\(error)")
            }
            let object = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(page)[0..<length])
            if let checksums, CRC32C.checksum(object) != checksums[block] {
                return .corrupt(handle: handle.rawValue, reason: "CRC-32C mismatch in block \(block)")
            }
            if length > 0 { buffer.baseAddress!.copyMemory(from: object.baseAddress!, byteCount: length) }
            return nil
        }
        if let result { throw result }
        return length
    }

    /// Frees the blocks of `handles` at once (punched out of the file, back to the allocator).
    /// Handles that name no stored object are ignored.
    public func free(_ handles: UnsafeBufferPointer<PageTierHandle>) {
        for handle in handles {
            let block = Int(truncatingIfNeeded: handle.rawValue) - 1
            guard handle.rawValue > 0, block < blockCount, blocks.isAllocated(block), lengths[block] >= 0 else { continue }
            storedBytes.subtract(Int(lengths[block]), ordering: .relaxed)
            lengths[block] = -1
            do { try file.punchHole(at: block, count: 1) } catch { failedPunches.add(1, ordering: .relaxed) }
            _ = blocks.free(block)
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

    /// Checks that every stored block is allocated and every free one has no length; debug
    /// builds only (tests call it).
    public func checkInvariants() {
        #if DEBUG
        blocks.checkInvariants()
        for block in 0..<blockCount {
            precondition((lengths[block] >= 0) == blocks.isAllocated(block), "block \(block): length \(lengths[block]) and allocation disagree")
            precondition(lengths[block] <= Int32(file.pageSize), "block \(block) records \(lengths[block]) bytes")
        }
        #endif
    }
}
