import PageStore

/// Where a ``ZramDevice`` writes pages back to: zram's `backing_dev`, set before the device is
/// made (``ZramConfiguration/backingDevice``). A file (each written-back page in a block of it,
/// through a `PageFileTier`) or any `PageTier` (a Redis Cluster, an encrypting tier).
///
/// Writeback moves each victim's *compressed* object (a huge slot's raw page) to the tier in
/// batches of up to ``batchSize`` objects; a slot whose object the tier acknowledged becomes WB,
/// holding the tier's handle, and its pool object is freed; an object the tier did not
/// acknowledge stays in the pool and is tried again later.
///
/// ```swift
/// let file = try BackingFile.temporary(blockCount: 16_384)       // 64 MiB of 4 KiB blocks
/// var configuration = ZramConfiguration(disksize: 256 << 20)
/// configuration.backingDevice = ZramBackingDevice(file: file, blockCount: 16_384, checksums: true)
/// // or: configuration.backingDevice = ZramBackingDevice(tier: clusterTier, batchSize: 256)
/// ```
///
/// A tier that may not be called from a signal handler (`PageTier.isAsyncSignalSafe` false)
/// gets a writeback thread of the device's own: automatic writeback runs there, frees of WB
/// slots are queued to it, and the device tells the swap layer that its WB reads must not run in
/// a signal handler (``ZramDevice/ioReadsAreSignalSafe``).
public struct ZramBackingDevice: Sendable {
    /// The file, when the device writes back to a file (blocks `0..<blockCount`); `nil` with a
    /// ``tier``. The device reads and writes whole blocks of it and punches freed ones; it does
    /// not close it.
    public var file: (any PageFile)?
    /// The tier, when the device writes back to one (it does not close it); `nil` with a
    /// ``file``.
    public var tier: (any PageTier)?
    /// How many blocks of the file the device may use (blocks `0..<blockCount`); 0 with a tier.
    public var blockCount: Int
    /// Record a CRC-32C of every object written to the file and verify it when it is read back,
    /// so a torn write or bad data from the disk throws `PageStoreError.corrupt` instead of
    /// handing out a wrong page. Costs 4 bytes per block. (A tier checks what it checks: the
    /// cluster checksums every value.)
    public var checksums: Bool
    /// Punch freed blocks out of the file (`fallocate`), so it uses no disk space for pages
    /// that were freed. A punch that fails is counted, never fails the free.
    public var punchFreedBlocks: Bool = true
    /// The most objects one write to the tier carries (a cluster wants 256 or more: each batch
    /// waits for the slowest master's WAIT).
    public var batchSize: Int = 64

    /// A backing device over `blockCount` blocks of `file`.
    public init(file: any PageFile, blockCount: Int, checksums: Bool = false) {
        self.file = file
        self.blockCount = blockCount
        self.checksums = checksums
    }

    /// A backing device that writes back to `tier`, `batchSize` objects a write at most.
    public init(tier: any PageTier, batchSize: Int = 256) {
        self.tier = tier
        self.blockCount = 0
        self.checksums = false
        self.batchSize = batchSize
    }

    /// Why this backing device cannot serve pages of `pageSize` bytes, or `nil`.
    func problem(pageSize: Int) -> String? {
        if let file {
            if file.pageSize != pageSize {
                return "the backing file has \(file.pageSize)-byte blocks but the device uses \(pageSize)-byte pages: open the file with the same page size"
            }
            if blockCount <= 0 || blockCount > Int(UInt32.max) {
                return "backing device block count \(blockCount) is out of range: give 1 to \(UInt32.max) blocks"
            }
        } else if let tier {
            if tier.maxObjectSize < pageSize {
                return "the tier takes objects of at most \(tier.maxObjectSize) bytes but a page the device stores raw has \(pageSize): configure the tier for \(pageSize)-byte objects"
            }
        } else {
            return "the backing device has neither a file nor a tier: give one"
        }
        if batchSize < 1 || batchSize > 65_536 { return "writeback batch size \(batchSize) must be 1...65536" }
        return nil
    }
}

/// Writeback that the device starts by itself when its pool grows too large, for swap use:
/// ``ZramConfiguration/automaticWriteback``.
///
/// When a write leaves `mem_used_total` at or above ``highWatermark``, the writing thread
/// writes idle slots back to the file until `mem_used_total` is below ``lowWatermark`` or it
/// has written ``batchSize`` pages. With a tier that may not be called from a signal handler the
/// device's writeback thread does it instead (checking every millisecond), the writes never
/// wait, and while the tier refuses pages the pool stays above the watermark (counted in
/// ``ZramWritebackStatistics/storesAboveHighWatermark`` and ``ZramWritebackStatistics/refusedPages``). When no slot is idle it first marks every slot idle (as
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
    /// Tier writes that failed (I/O errors: a full or unreachable tier counts in
    /// ``refusedPages`` only); each page stayed in the pool, readable.
    public var failedWrites = 0
    /// Pages written to the tier but kept in the pool because the slot was read, written or
    /// freed while the batch was being written (the tier's copy was freed again).
    public var cancelled = 0
    /// Pages the tier did not acknowledge (a cluster down or failing over, WAIT short, a full
    /// file): they stayed in the pool and were tried again later.
    public var refusedPages = 0
    /// Writes that left the pool at or above the high watermark while writeback ran on the
    /// device's thread (a tier that may not be called from a signal handler): the pool over its
    /// soft limit, waiting for the tier.
    public var storesAboveHighWatermark = 0
    /// Freed written-back pages whose tier copy waits in the writeback thread's queue now.
    public var pendingTierFrees = 0
    /// Freed blocks whose hole punch failed since the device was made or last reset (the block
    /// is still reused).
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
    /// Rounds that stopped because the backing file (the tier) was full.
    public var automaticFileFull = 0
    /// Rounds that stopped because the writeback limit was used up.
    public var automaticLimitStops = 0
    /// Rounds that compacted the pool afterwards (it stayed fragmented above the low watermark).
    public var automaticCompactions = 0

    /// All zero.
    public init() {}
}
