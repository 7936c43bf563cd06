/// A store of page-sized slots that the swap layer writes cold pages to and reads them back from:
/// the user-space counterpart of a swap device's `block_device_operations`.
///
/// The swap layer owns slot allocation (which slots are in use, their use counts); a backend
/// only stores and returns page contents by slot index, like a block device.
///
/// The seed's rules, as this protocol puts them:
/// - ``readPage(at:into:)`` never frees anything, whoever calls it (a swap-in, a snapshot, a
///   verification). Freeing on swap-in is a separate, explicit ``slotFreeNotify(_:)`` that the
///   swap layer sends only after the page is installed and no other reader can use the slot.
/// - ``writePage(_:at:)`` either stores the whole page or throws and leaves the slot's old
///   contents intact.
///
/// Conformers are classes shared between threads; operations on different slots may run in
/// parallel, operations on one slot are serialized by the backend.
public protocol SwapBackend: AnyObject, Sendable {
    /// The size of every page, a power of two from 4 KiB to 64 KiB.
    var pageSize: Int { get }
    /// How many slots the backend has (its disksize in pages).
    var slotCount: Int { get }
    /// Whether ``slotFreeNotify(_:)`` can free a copy: the kernel's
    /// `fops->swap_slot_free_notify != NULL`. A plain file cannot; zram can.
    var freesOnNotify: Bool { get }

    /// Stores one page (exactly ``pageSize`` bytes) at `slot`, replacing its old contents only
    /// on success.
    func writePage(_ page: UnsafeRawBufferPointer, at slot: Int) throws(PageStoreError)

    /// Reads the page at `slot` into `buffer` (exactly ``pageSize`` bytes). Never frees.
    func readPage(at slot: Int, into buffer: UnsafeMutableRawBufferPointer) throws(PageStoreError)

    /// Whether reading `slot` right now means file I/O (the page was written back to a file
    /// tier), so the swap layer may hand the read to an I/O thread instead of doing it inline.
    /// A hint, read without the slot's lock: the answer may be stale by the time the read runs,
    /// and ``readPage(at:into:)`` is correct either way. Memory-only backends return false.
    func readNeedsIO(at slot: Int) -> Bool

    /// Whether a read for which ``readNeedsIO(at:)`` is true may run in a signal handler: true
    /// for memory and a file tier (`pread`), false when the second tier is a network store or
    /// decrypts (sockets, locks, allocation). A swap region that serves faults in its SIGBUS
    /// handler then reads every swap-in of this backend on its I/O threads (a pool hit the
    /// hint saw could be written back before the read runs), and refuses a configuration
    /// without them.
    var ioReadsAreSignalSafe: Bool { get }

    /// The swap layer installed the page read from `slot` and holds no other reference to it:
    /// the backend may free its copy (zram: count `notify_free`, try the slot lock, on failure
    /// count `miss_free` and keep the copy).
    func slotFreeNotify(_ slot: Int)

    /// The swap slot was freed: drop whatever the backend holds for it.
    func discard(_ slot: Int)

    /// Counters for reports; a backend fills the fields that apply to it.
    var statistics: BackendStatistics { get }
}

extension SwapBackend {
    /// Memory-only backends: no read needs file I/O.
    public func readNeedsIO(at slot: Int) -> Bool { false }

    /// Memory-only and file backends: every read may run in a signal handler.
    public var ioReadsAreSignalSafe: Bool { true }
}

/// A backend's counters in the kernel's vocabulary (zram's mm_stat, io_stat, bd_stat; zswap's
/// debugfs counters). Fields that do not apply to a backend stay zero.
public struct BackendStatistics: Sendable, Equatable {
    /// Pages stored (same-filled included), as a page count.
    public var storedPages = 0
    /// mm_stat orig_data_size: stored pages x page size.
    public var origDataSize = 0
    /// mm_stat compr_data_size: sum of stored object sizes.
    public var comprDataSize = 0
    /// mm_stat mem_used_total: every byte the pool holds from the system.
    public var memUsedTotal = 0
    /// mm_stat mem_used_max.
    public var memUsedMax = 0
    /// mm_stat same_pages.
    public var samePages = 0
    /// mm_stat huge_pages.
    public var hugePages = 0
    /// io_stat failed_reads.
    public var failedReads = 0
    /// io_stat failed_writes.
    public var failedWrites = 0
    /// io_stat notify_free.
    public var notifyFree = 0
    /// debug_stat miss_free.
    public var missFree = 0
    /// Pages written back to a file tier.
    public var writtenBack = 0
    /// Pages read back from a file tier.
    public var fileReads = 0

    /// All zero.
    public init() {}
}
