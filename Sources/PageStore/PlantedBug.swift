#if DEBUG
import Synchronization

/// Bugs that a soak plants on purpose to prove that it finds them: debug builds only (release
/// builds have neither this type nor the code paths it switches), and off unless a test or
/// `uswap soak --plant NAME` turns one on.
///
/// Each case names the rule it breaks and where it breaks it:
/// - ``skippedChecksum``: `PageChecksums.verify` accepts every page, so a corrupt block read
///   back from a backing file is handed out as if it were good (zram writeback, zswap).
/// - ``droppedWriteDuringEviction``: eviction reads a dirty page for compression without
///   write-protecting or moving it first, so a write that lands between the read and the
///   `MADV_DONTNEED` is lost (Swap's reclaimer).
/// - ``slotFreedEarly``: a swap-in frees the compressed copy before it knows the page was
///   installed: here, when the read failed, so the page is left naming a freed slot (Swap's
///   fault path; the seed's `PageUptodate` objection).
///
/// ```swift
/// PlantedBug.plant(.skippedChecksum)
/// defer { PlantedBug.removeAll() }
/// ```
///
/// The switch is one process-wide atomic word (a bit per bug), read on the paths above.
@_spi(SoakPlant) public enum PlantedBug: String, Sendable, CaseIterable {
    /// Checksums of pages read back from a file are not verified.
    case skippedChecksum = "skipped-checksum"
    /// A write landing while its page is evicted is lost.
    case droppedWriteDuringEviction = "dropped-write"
    /// A failed swap-in frees the page's slot.
    case slotFreedEarly = "slot-freed-early"

    private static let planted = Atomic<UInt8>(0)

    private var bit: UInt8 {
        switch self {
        case .skippedChecksum: 1
        case .droppedWriteDuringEviction: 2
        case .slotFreedEarly: 4
        }
    }

    /// Turns `bug` on for the whole process.
    public static func plant(_ bug: PlantedBug) { planted.bitwiseOr(bug.bit, ordering: .relaxed) }

    /// Turns every planted bug off.
    public static func removeAll() { planted.store(0, ordering: .relaxed) }

    /// Whether `bug` is on.
    @inline(__always)
    public static func isPlanted(_ bug: PlantedBug) -> Bool { planted.load(ordering: .relaxed) & bug.bit != 0 }
}
#endif
