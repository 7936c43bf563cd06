import PageStore

/// The file a ``ZramDevice`` writes pages back to: zram's `backing_dev`, set before the device
/// is made (``ZramConfiguration/backingDevice``).
///
/// Block `i` of the file holds one written-back page; ``blockCount`` blocks bound how many
/// pages can be in the file at once (a `BlockAllocator` hands them out, lowest first, and takes
/// them back when a written-back slot is freed).
///
/// ```swift
/// let file = try BackingFile.temporary(blockCount: 16_384)       // 64 MiB of 4 KiB blocks
/// var configuration = ZramConfiguration(disksize: 256 << 20)
/// configuration.backingDevice = ZramBackingDevice(file: file, blockCount: 16_384, checksums: true)
/// ```
public struct ZramBackingDevice: Sendable {
    /// The file. The device writes and reads whole blocks of it and punches freed ones; it does
    /// not close it.
    public var file: any PageFile
    /// How many blocks of the file the device may use (blocks `0..<blockCount`).
    public var blockCount: Int
    /// Record a CRC-32C of every page written back and verify it when the page is read back,
    /// so a torn write or bad data from the disk throws `PageStoreError.corrupt` instead of
    /// handing out a wrong page. Costs 8 bytes per block.
    public var checksums: Bool
    /// Punch freed blocks out of the file (`fallocate`), so it uses no disk space for pages
    /// that were freed. A punch that fails is counted, never fails the free.
    public var punchFreedBlocks: Bool = true

    /// A backing device over `blockCount` blocks of `file`.
    public init(file: any PageFile, blockCount: Int, checksums: Bool = false) {
        self.file = file
        self.blockCount = blockCount
        self.checksums = checksums
    }
}

/// Writeback that the device starts by itself when its pool grows too large, for swap use:
/// ``ZramConfiguration/automaticWriteback``.
///
/// When a write leaves `mem_used_total` at or above ``highWatermark``, the writing thread
/// writes idle slots back to the file until `mem_used_total` is below ``lowWatermark`` or it
/// has written ``batchSize`` pages. When no slot is idle it first marks every slot idle (as
/// `echo all > idle` does), so the slots read or written since the previous marking are the
/// ones that stay in memory: a two-generation clock. One thread does this at a time; others
/// that find it running go on without waiting.
public struct ZramAutomaticWriteback: Sendable, Hashable {
    /// Start writing back when `mem_used_total` reaches this many bytes (the pool's soft limit).
    public var highWatermark: Int
    /// Stop writing back once `mem_used_total` is below this many bytes.
    public var lowWatermark: Int
    /// The most pages one round writes back, which bounds the extra latency of the write that
    /// starts it (the next write above the high watermark starts another round).
    public var batchSize: Int = 64

    /// Writes back between the two watermarks (bytes of `mem_used_total`), `batchSize` pages a
    /// round at most.
    public init(highWatermark: Int, lowWatermark: Int, batchSize: Int = 64) {
        self.highWatermark = highWatermark
        self.lowWatermark = lowWatermark
        self.batchSize = batchSize
    }

    /// Why these settings cannot work, or `nil`.
    var problem: String? {
        if highWatermark <= 0 { return "automatic writeback's high watermark \(highWatermark) must be positive (bytes of mem_used_total)" }
        if lowWatermark < 0 || lowWatermark > highWatermark {
            return "automatic writeback's low watermark \(lowWatermark) must be from 0 to the high watermark \(highWatermark)"
        }
        if batchSize < 1 { return "automatic writeback's batch size \(batchSize) must be at least 1" }
        return nil
    }
}

/// Which slots ``ZramDevice/writeback(_:maxPages:)`` writes back, as zram's `writeback`
/// attribute selects. Same-filled, empty and already written-back slots are always skipped.
public enum ZramWritebackMode: Sendable, Hashable {
    /// Idle slots (`echo idle > writeback`): mark them first with ``ZramDevice/markIdle(_:)``.
    case idle
    /// Huge slots, stored raw (`echo huge > writeback`).
    case huge
    /// Slots both huge and idle (`echo huge_idle > writeback`).
    case hugeIdle
    /// Slots that recompression found incompressible (`echo incompressible > writeback`).
    case incompressible
    /// One slot, whatever its idle or huge state (`echo page_index=N > writeback`).
    case slot(Int)

    /// The flags a slot needs to be chosen.
    var required: UInt32 {
        switch self {
        case .idle: ZramSlotFlags.idle.rawValue
        case .huge: ZramSlotFlags.huge.rawValue
        case .hugeIdle: ZramSlotFlags.huge.rawValue | ZramSlotFlags.idle.rawValue
        case .incompressible: ZramSlotFlags.incompressible.rawValue
        case .slot: 0
        }
    }
}

/// What writeback did, beyond `bd_stat`: failures, cancellations and the cost of automatic
/// writeback (``ZramDevice/writebackStatistics``).
public struct ZramWritebackStatistics: Sendable, Equatable {
    /// Block writes that failed; each page stayed in the pool, readable.
    public var failedWrites = 0
    /// Pages written to the file but kept in the pool because the slot was read, written or
    /// freed while its block was being written (the block was freed again).
    public var cancelled = 0
    /// Freed blocks whose hole punch failed (the block is still reused).
    public var failedPunches = 0
    /// Automatic writeback rounds run.
    public var automaticRounds = 0
    /// Pages written back by automatic rounds.
    public var automaticPages = 0
    /// Wall time spent in automatic rounds, in nanoseconds (on the writing threads).
    public var automaticNanoseconds = 0
    /// Writes that found the pool above the high watermark while another thread was already
    /// writing back, and went on without waiting.
    public var automaticBusy = 0
    /// Rounds that marked every slot idle because none was.
    public var automaticIdleMarkings = 0
    /// Rounds that stopped because the backing file was full.
    public var automaticFileFull = 0
    /// Rounds that stopped because the writeback limit was used up.
    public var automaticLimitStops = 0
    /// Rounds that compacted the pool afterwards (it stayed fragmented above the low watermark).
    public var automaticCompactions = 0

    /// All zero.
    public init() {}
}
