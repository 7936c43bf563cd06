/// The per-slot state bits, as zram_drv.h's `enum zram_pageflags` lays them out: the low bits
/// of a slot's 32-bit word hold the stored object's size, the flags sit above them.
///
/// Read them with ``ZramDevice/slotFlags(_:)``; the device keeps them, callers never set them.
public struct ZramSlotFlags: OptionSet, Sendable, Hashable, CustomStringConvertible {
    /// The flag bits, in place in a slot's word.
    public let rawValue: UInt32

    /// Makes a flag set from raw bits (already shifted into place).
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Bits below this hold the object size (up to 64 KiB pages: 17 bits needed).
    static let shift: UInt32 = 18
    /// The size field's mask.
    static let sizeMask: UInt32 = (1 << shift) - 1

    /// ZRAM_LOCK: an operation on the slot is in progress.
    public static let lock = ZramSlotFlags(rawValue: 1 << (shift + 0))
    /// ZRAM_SAME: the page is one machine word repeated; the word is the slot's handle.
    public static let same = ZramSlotFlags(rawValue: 1 << (shift + 1))
    /// ZRAM_WB: the page was written back to the backing file; the handle is its block index.
    public static let writtenBack = ZramSlotFlags(rawValue: 1 << (shift + 2))
    /// ZRAM_PP_SLOT: selected for post-processing (writeback, recompression).
    public static let postProcessing = ZramSlotFlags(rawValue: 1 << (shift + 3))
    /// ZRAM_HUGE: stored uncompressed, its compressed form reaching huge_class_size.
    public static let huge = ZramSlotFlags(rawValue: 1 << (shift + 4))
    /// ZRAM_IDLE: not accessed since the last idle marking.
    public static let idle = ZramSlotFlags(rawValue: 1 << (shift + 5))
    /// ZRAM_INCOMPRESSIBLE: recompression with every codec failed to shrink this huge page.
    public static let incompressible = ZramSlotFlags(rawValue: 1 << (shift + 6))
    /// ZRAM_COMP_PRIORITY_BIT1: low bit of the codec priority (0 = primary codec).
    public static let priorityBit1 = ZramSlotFlags(rawValue: 1 << (shift + 7))
    /// ZRAM_COMP_PRIORITY_BIT2: high bit of the codec priority.
    public static let priorityBit2 = ZramSlotFlags(rawValue: 1 << (shift + 8))

    /// Where the priority's two bits start.
    static let priorityShift: UInt32 = shift + 7
    /// Every flag bit.
    static let allFlags: UInt32 = ~sizeMask

    /// The codec priority the flags record: 0 for the primary codec, 1 for the secondary.
    public var priority: Int { Int((rawValue >> Self.priorityShift) & 3) }

    /// The flag names, kernel style: `same|huge|idle`.
    public var description: String {
        let names: [(ZramSlotFlags, String)] = [
            (.lock, "lock"), (.same, "same"), (.writtenBack, "wb"), (.postProcessing, "pp_slot"),
            (.huge, "huge"), (.idle, "idle"), (.incompressible, "incompressible"),
            (.priorityBit1, "prio1"), (.priorityBit2, "prio2"),
        ]
        return names.filter { contains($0.0) }.map(\.1).joined(separator: "|")
    }
}
