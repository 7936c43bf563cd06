import PageCodecs

/// How big a ``FrontswapCache``'s compressed pool may grow.
public enum PoolLimit: Sendable, Hashable, CustomStringConvertible {
    /// A share of the machine's RAM (`MemTotal`), as zswap's `max_pool_percent` (default 20).
    case percentOfRAM(Int)
    /// A number of bytes.
    case bytes(Int)

    /// The limit in bytes on a machine with `memTotal` bytes of RAM.
    public func bytes(memTotal: Int) -> Int {
        switch self {
        case .percentOfRAM(let percent): memTotal / 100 * percent
        case .bytes(let bytes): bytes
        }
    }

    /// `20% of RAM`, `1048576 bytes`.
    public var description: String {
        switch self {
        case .percentOfRAM(let p): "\(p)% of RAM"
        case .bytes(let b): "\(b) bytes"
        }
    }
}

/// How to build a ``FrontswapCache``: zswap's knobs (`max_pool_percent`,
/// `accept_threshold_percent`, `compressor`) plus the size of the swap area behind it.
public struct FrontswapConfiguration: Sendable {
    /// Swap slots. A page in the file takes the lowest free block, whatever its slot
    /// (``FrontswapCache/fileBlock(of:)`` says which); the file needs ``fileBlockCount`` blocks.
    public var slotCount: Int
    /// The page size, a power of two from 4 KiB to 64 KiB.
    public var pageSize: Int = 4096
    /// The compressor.
    public var codec: PageCodecFactory = .lz4
    /// The pool's limit (`max_pool_percent`; default 20% of RAM).
    public var poolLimit: PoolLimit = .percentOfRAM(20)
    /// Once the pool was full, new stores are refused until it is at or below this share of
    /// the limit (`accept_threshold_percent`, default 90).
    public var acceptThresholdPercent: Int = 90
    /// Keep pages that do not compress raw in the pool (the kernel does so when writeback is
    /// enabled, to keep LRU order); when `false` they go straight to the file and count as
    /// `reject_compress_poor`.
    public var storeIncompressible: Bool = true
    /// Record a CRC-32C of every page written to the file and verify it on read.
    public var checksums: Bool = false
    /// When a store finds the pool full, the storing thread writes back up to
    /// ``writebackBatch`` least recently used entries before deciding (the kernel queues a
    /// shrink worker instead). When `false`, only ``FrontswapCache/shrink(maxPages:)`` writes back.
    public var shrinkOnLimit: Bool = true
    /// Entries a store writes back at most when it finds the pool full.
    public var writebackBatch: Int = 32
    /// Which pages leave for the file once the pool is full (with ``shrinkOnLimit``).
    public var limitPolicy: LimitPolicy = .writeBackOldest

    /// The blocks the backing file of a cache made with ``FrontswapCache/init(_:file:memTotal:)``
    /// may use: one per slot, plus one per codec stream (`CodecStreams.defaultCount`). A page
    /// stored straight to the file is written to a free block before the slot's old copy there
    /// is freed (so a failed write loses nothing); with no block to spare, a slot whose page is
    /// in a full file could not be stored there again. A `BackingFile` grows into the extra
    /// blocks when they are written (sparse); a fixed-size file should have them.
    public var fileBlockCount: Int { slotCount + CodecStreams.defaultCount }

    /// Which pages go to the file when the pool is full.
    public enum LimitPolicy: Sendable, Hashable {
        /// Every store refused while the pool is above the accept threshold first writes back
        /// up to ``FrontswapConfiguration/writebackBatch`` least recently used entries, then
        /// is stored in the pool once it is below: the pool keeps the newest pages (right when
        /// recently swapped-out pages are the ones touched next).
        case writeBackOldest
        /// zswap's way: a store that finds the pool at its limit writes back one batch (the
        /// kernel queues its shrink worker), and stores go straight to the file until the pool
        /// has drained below the accept threshold: the pool keeps the older pages (right when
        /// pages untouched for long are the ones touched next, as under a uniform scan).
        case rejectNewest
    }
    /// Punch freed file blocks out of the file (`fallocate`), so the file takes no disk space
    /// for slots that hold nothing.
    public var punchFreedBlocks: Bool = true

    /// A configuration with the given number of slots and page size, defaults otherwise.
    public init(slotCount: Int, pageSize: Int = 4096, poolLimit: PoolLimit = .percentOfRAM(20)) {
        self.slotCount = slotCount
        self.pageSize = pageSize
        self.poolLimit = poolLimit
    }

    /// The pool limit in bytes for a machine of `memTotal` bytes, rounded down to whole pages.
    public func poolLimitBytes(memTotal: Int) -> Int {
        poolLimit.bytes(memTotal: memTotal) / pageSize * pageSize
    }

    /// Why this configuration cannot make a cache, or `nil` when it can.
    public var problem: String? {
        if !PageSize.isValid(pageSize) { return "page size \(pageSize) is not a power of two from 4096 to 65536: use 4096" }
        if slotCount <= 0 || slotCount >= Int(UInt32.max) - 1 {
            return "slot count \(slotCount) is out of range: give 1 to \(UInt32.max - 2) slots"
        }
        switch poolLimit {
        case .percentOfRAM(let p) where !(1...100).contains(p):
            return "max_pool_percent \(p) is outside 1...100: use 20"
        case .bytes(let b) where b < pageSize:
            return "pool limit of \(b) bytes is smaller than one \(pageSize)-byte page: give at least \(pageSize)"
        default: break
        }
        if !(0...100).contains(acceptThresholdPercent) {
            return "accept_threshold_percent \(acceptThresholdPercent) is outside 0...100: use 90"
        }
        if writebackBatch < 1 { return "writeback batch \(writebackBatch) must be at least 1" }
        return nil
    }
}
