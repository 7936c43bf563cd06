import PageCodecs
import PageStore
import ZRAM

/// What a `ZramDevice` should hold after each operation of a ``ZramSequenceCheck`` sequence:
/// every slot's page and where it lives, the IDLE marks, the backing file's blocks, the
/// faults its file will inject, and the counters of mm_stat, io_stat, bd_stat and writeback.
///
/// The model predicts everything the device decides by rule (same-filled detection, which
/// slots writeback and recompression consider, how writeback cuts them into batches for its
/// file tier, which block each page takes, which file calls fail); what depends on a codec's output (whether a page is huge, whether recompression
/// shrinks it, whether a write fits under `mem_limit`) it reads from the device and checks
/// against the rules instead.
///
/// **Memory.** ``pages`` holds one expected page per slot, allocated with the model and freed
/// with it.
final class ZramModel {
    /// Where a slot's page is.
    enum State: Equatable {
        case empty
        /// Same-filled: the word is in the slot table.
        case same
        /// A pool object (compressed or huge).
        case pool
        /// In the backing file.
        case writtenBack(block: Int)
    }

    let slotCount: Int
    let pageSize: Int
    let blockCount: Int
    let punchesFreedBlocks: Bool
    /// The most pages one write to the file tier carries (`ZramBackingDevice.batchSize`).
    let batchSize: Int
    var states: [State]
    var idle: [Bool]
    /// A written-back slot's object as the pool held it: its length (the page size for a raw
    /// page) and the codec priority it was compressed with.
    var objectLengths: [Int]
    var objectPriorities: [Int]
    var blockUsed: [Bool]
    let pages: ExactBuffer
    var faults = FaultMirror()

    var failedReads = 0
    var failedWrites = 0
    var notifyFree = 0
    var bdReads = 0
    var bdWrites = 0
    var writebackFailedWrites = 0
    /// Pages a tier write did not take (failed writes and pages the file had no room for).
    var writebackRefused = 0
    /// The file tier's own counters, which a device reset does not clear.
    var tierAcknowledged = 0
    var tierRefused = 0
    var failedPunches = 0
    var pagesCompacted = 0
    var writebackLimitEnabled = false
    var writebackLimit = 0

    init(slotCount: Int, pageSize: Int, blockCount: Int, punchesFreedBlocks: Bool, batchSize: Int) {
        self.slotCount = slotCount
        self.pageSize = pageSize
        self.blockCount = blockCount
        self.punchesFreedBlocks = punchesFreedBlocks
        self.batchSize = batchSize
        states = Array(repeating: .empty, count: slotCount)
        idle = Array(repeating: false, count: slotCount)
        objectLengths = Array(repeating: 0, count: slotCount)
        objectPriorities = Array(repeating: 0, count: slotCount)
        blockUsed = Array(repeating: false, count: blockCount)
        pages = ExactBuffer(count: slotCount * pageSize)
    }

    /// bd_stat's 4 KiB units per page.
    var unitsPerPage: Int { max(1, pageSize / 4096) }

    /// The expected page of `slot`.
    func page(_ slot: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: pages.bytes[(slot * pageSize)..<((slot + 1) * pageSize)])
    }

    /// Slots holding anything; same-filled ones; pool objects; written-back ones.
    var storedCount: Int { states.count { $0 != .empty } }
    var sameCount: Int { states.count { $0 == .same } }
    var poolCount: Int { states.count { $0 == .pool } }
    var writtenBackCount: Int { states.count { if case .writtenBack = $0 { true } else { false } } }

    /// The lowest block no written-back slot holds.
    var lowestFreeBlock: Int? { blockUsed.firstIndex(of: false) }

    /// The device frees a file block: forgets it and punches it (a failed punch is counted).
    func releaseBlock(_ block: Int) {
        blockUsed[block] = false
        if punchesFreedBlocks, faults.next(.punch, block: block) != nil { failedPunches += 1 }
    }

    /// `slot` is emptied (discard, notify, overwrite, reset): a written-back block is released.
    func free(_ slot: Int) {
        if case .writtenBack(let block) = states[slot] { releaseBlock(block) }
        states[slot] = .empty
        idle[slot] = false
    }

    /// `page` was stored at `slot`.
    func stored(_ page: UnsafeRawBufferPointer, at slot: Int) {
        free(slot)
        self.page(slot).copyMemory(from: page)
        states[slot] = SameFilled.word(of: page) != nil ? .same : .pool
    }

    /// The device read `slot` successfully (read, partial write, sector read).
    func accessed(_ slot: Int) {
        idle[slot] = false
    }
}
