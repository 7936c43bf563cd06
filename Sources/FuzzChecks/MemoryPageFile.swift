#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import PageStore
import SystemSupport

/// A `PageFile` held in memory, for fuzz targets that run thousands of stores a second over a
/// backing file: no descriptor, no disk, the same contract as `BackingFile` (unwritten and
/// punched blocks read as zeros) within a fixed number of blocks.
///
/// **Memory.** One buffer of `blockCount × pageSize` bytes, allocated zeroed in `init` and freed
/// in `deinit`; blocks live as long as the file. **Invariant**: the buffer covers exactly
/// `blockCount` blocks, and `ioCounters` counts every call that completed or failed. Every
/// call holds ``lock`` (a `SpinLock`) while it touches the buffer or the counters, which is
/// what makes the `@unchecked Sendable` sound.
public final class MemoryPageFile: PageFile, @unchecked Sendable {
    /// The block size.
    public let pageSize: Int
    /// How many blocks the file holds; a call past them fails with `EIO`.
    public let blockCount: Int
    private let storage: UnsafeMutableRawBufferPointer
    private let lock = SpinLock()
    private var counters = PageFileCounters()

    /// A file of `blockCount` zeroed blocks of `pageSize` bytes.
    public init(pageSize: Int, blockCount: Int) {
        precondition(pageSize > 0 && blockCount >= 0, "a memory page file needs a positive page size and 0 or more blocks")
        self.pageSize = pageSize
        self.blockCount = blockCount
        storage = .allocate(byteCount: max(1, pageSize * blockCount), alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { storage.deallocate() }

    private func block(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: storage[(index * pageSize)..<((index + 1) * pageSize)])
    }

    private func check(_ index: Int, _ count: Int, _ what: String) throws(PageStoreError) {
        guard count == pageSize else { throw .wrongPageSize(expected: pageSize, actual: count) }
        guard index >= 0 && index < blockCount else {
            throw .io(errno: EIO, operation: "\(what) of block \(index): the memory file has \(blockCount) blocks")
        }
    }

    /// Copies block `index` into `buffer`.
    public func readBlock(_ index: Int, into buffer: UnsafeMutableRawBufferPointer) throws(PageStoreError) {
        try lock.withLock { () throws(PageStoreError) in
            do throws(PageStoreError) { try check(index, buffer.count, "read") } catch {
                counters.failedReads += 1
                throw error
            }
            buffer.copyMemory(from: UnsafeRawBufferPointer(block(index)))
            counters.reads += 1
        }
    }

    /// Copies `page` into block `index`.
    public func writeBlock(_ page: UnsafeRawBufferPointer, at index: Int) throws(PageStoreError) {
        try lock.withLock { () throws(PageStoreError) in
            do throws(PageStoreError) { try check(index, page.count, "write") } catch {
                counters.failedWrites += 1
                throw error
            }
            block(index).copyMemory(from: page)
            counters.writes += 1
        }
    }

    /// Zeroes `count` blocks from `index` (those inside the file); always `true`.
    @discardableResult
    public func punchHole(at index: Int, count: Int) throws(PageStoreError) -> Bool {
        lock.withLock {
            let start = max(0, index)
            let end = min(blockCount, index + count)
            if start < end {
                (storage.baseAddress! + start * pageSize).initializeMemory(as: UInt8.self, repeating: 0, count: (end - start) * pageSize)
            }
            counters.punches += 1
        }
        return true
    }

    /// Nothing to flush; counted.
    public func sync() throws(PageStoreError) { lock.withLock { counters.syncs += 1 } }

    /// Zeroes the blocks from `blockCount` on (the file keeps its capacity).
    public func truncate(toBlocks blockCount: Int) throws(PageStoreError) {
        try punchHole(at: blockCount, count: self.blockCount - blockCount)
    }

    /// Copies block `index` into `buffer` without counting a read: for a model that checks
    /// what the file holds underneath a fault-injecting wrapper.
    public func peekBlock(_ index: Int, into buffer: UnsafeMutableRawBufferPointer) {
        lock.withLock {
            precondition(index >= 0 && index < blockCount && buffer.count == pageSize, "peek of block \(index) outside the file")
            buffer.copyMemory(from: UnsafeRawBufferPointer(block(index)))
        }
    }

    /// The calls so far.
    public var ioCounters: PageFileCounters { lock.withLock { counters } }

    /// Debug builds: checks that the buffer covers the blocks.
    public func checkInvariants() {
        #if DEBUG
        lock.withLock {
            precondition(storage.count == max(1, pageSize * blockCount), "a memory page file's buffer does not match its blocks")
        }
        #endif
    }
}
