/// One page's state in a program's address space, as the pager sees it: one 64-bit word per
/// page in a session's ``PageTable``, changed by compare-and-swap.
///
/// Layout (bit 0 is the lowest):
/// - 0...31: the swap slot + 1 (0: none)
/// - 32...34: the ``Kind``
/// - 35: ``moved`` (evicting: the page sits in the agent's scratch area, not in the program)
/// - 36: ``wake`` (a thread of the program waits for this page's eviction to end)
/// - 37...38: ``heat`` (laps of the clock the page is skipped: it refaulted soon after eviction)
/// - 39: ``clean`` (resident, mapped write-protected, its slot holds the same bytes: lazy policy)
/// - 40: ``forkWindow`` (swapped in while a fork was pending: the slot stays for the child)
///   (a resident page with a slot that is neither ``clean`` nor ``forkWindow`` was swapped in
///   from a slot another process still used: ``keepsSharedSlot``)
/// - 41...47: the residency generation (7 bits), which ring entries carry to tell stale ones apart
/// - 48...62: the eviction epoch (units of ``epochShift`` evictions), for refault distances
/// - 63: ``pinned`` (the page cannot be moved out: its mapping forbids it)
public struct PageState: RawRepresentable, Sendable, Equatable, CustomStringConvertible {
    /// The word.
    public var rawValue: UInt64

    /// A state from its word.
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Where the page is.
    public enum Kind: UInt64, Sendable {
        /// Never filled, or given back by the program: reads as zeros, holds no slot.
        case empty = 0
        /// In the program's memory.
        case resident = 1
        /// Out of the program: its bytes are in ``slot`` (compressed), or it was a zero page.
        case swapped = 2
        /// Being evicted: claimed by the evictor, maybe already ``moved`` to the scratch area.
        case evicting = 3
        /// The page's bytes are lost (a fork without the agent's fork handlers caught it in
        /// flight): accesses get SIGBUS, as the kernel gives for a swap page it cannot read.
        case lost = 4
    }

    /// Evictions per epoch unit: the epoch field counts evictions / 64.
    public static let epochShift: UInt64 = 6

    /// The empty state (all zero).
    public static let empty = PageState(rawValue: 0)

    /// A state of `kind` holding `slot` (nil: none) with `generation`.
    @inlinable
    public init(kind: Kind, slot: Int?, generation: UInt8 = 0) {
        var raw = kind.rawValue << 32 | UInt64(generation & 0x7F) << 41
        if let slot { raw |= UInt64(slot + 1) & 0xFFFF_FFFF }
        rawValue = raw
    }

    /// Where the page is.
    @inlinable public var kind: Kind { Kind(rawValue: (rawValue >> 32) & 0x7) ?? .empty }

    /// The slot holding the page's bytes, if any.
    @inlinable public var slot: Int? {
        let stored = rawValue & 0xFFFF_FFFF
        return stored == 0 ? nil : Int(stored - 1)
    }

    /// The residency generation (7 bits: wraps at 128; use ``nextGeneration``).
    @inlinable public var generation: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 41) & 0x7F }

    /// The generation after this one.
    @inlinable public var nextGeneration: UInt8 { (generation &+ 1) & 0x7F }

    /// Laps of the clock this page is still skipped (0...3).
    @inlinable public var heat: Int { Int((rawValue >> 37) & 0x3) }

    /// The eviction epoch stored when the page was swapped out (15 bits).
    @inlinable public var epoch: UInt64 { (rawValue >> 48) & 0x7FFF }

    /// Evicting: the page was moved to the scratch area.
    @inlinable public var moved: Bool { rawValue & (1 << 35) != 0 }
    /// A thread waits for the eviction to end.
    @inlinable public var wake: Bool { rawValue & (1 << 36) != 0 }
    /// Resident, write-protected, and identical to its slot.
    @inlinable public var clean: Bool { rawValue & (1 << 39) != 0 }
    /// Swapped in while a fork was pending; the slot is kept for the child.
    @inlinable public var forkWindow: Bool { rawValue & (1 << 40) != 0 }
    /// Swapped in from a slot that a fork shared, which it keeps: evicted unchanged, the page
    /// goes back to that slot instead of a second copy of the same bytes (resident or evicting,
    /// a slot, neither ``clean`` nor ``forkWindow``).
    @inlinable public var keepsSharedSlot: Bool {
        (kind == .resident || kind == .evicting) && slot != nil && !clean && !forkWindow
    }
    /// Cannot be moved out of the program.
    @inlinable public var pinned: Bool { rawValue & (1 << 63) != 0 }

    /// This state with `kind` instead.
    @inlinable public func with(kind: Kind) -> PageState {
        PageState(rawValue: rawValue & ~(0x7 << 32) | kind.rawValue << 32)
    }

    /// This state holding `slot` (nil: none).
    @inlinable public func with(slot: Int?) -> PageState {
        var raw = rawValue & ~0xFFFF_FFFF
        if let slot { raw |= UInt64(slot + 1) & 0xFFFF_FFFF }
        return PageState(rawValue: raw)
    }

    /// This state with `generation` (7 bits kept).
    @inlinable public func with(generation: UInt8) -> PageState {
        PageState(rawValue: rawValue & ~(0x7F << 41) | UInt64(generation & 0x7F) << 41)
    }

    /// The most laps ``heat`` holds (its two bits).
    public static let maximumHeat = 3

    /// This state with `heat` laps (clamped to 0...``maximumHeat``).
    @inlinable public func with(heat: Int) -> PageState {
        PageState(rawValue: rawValue & ~(0x3 << 37) | UInt64(max(0, min(Self.maximumHeat, heat))) << 37)
    }

    /// This state with the eviction `epoch` (15 bits kept).
    @inlinable public func with(epoch: UInt64) -> PageState {
        PageState(rawValue: rawValue & ~(0x7FFF << 48) | (epoch & 0x7FFF) << 48)
    }

    /// This state with the flag bits in `mask` set or cleared.
    @inlinable public func setting(_ mask: Flag, _ on: Bool = true) -> PageState {
        PageState(rawValue: on ? rawValue | mask.rawValue : rawValue & ~mask.rawValue)
    }

    /// The single-bit flags.
    public struct Flag: OptionSet, Sendable {
        /// The bit.
        public var rawValue: UInt64
        /// A flag from its bit.
        @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
        /// See ``PageState/moved``.
        public static let moved = Flag(rawValue: 1 << 35)
        /// See ``PageState/wake``.
        public static let wake = Flag(rawValue: 1 << 36)
        /// See ``PageState/clean``.
        public static let clean = Flag(rawValue: 1 << 39)
        /// See ``PageState/forkWindow``.
        public static let forkWindow = Flag(rawValue: 1 << 40)
        /// See ``PageState/pinned``.
        public static let pinned = Flag(rawValue: 1 << 63)
    }

    /// `resident slot=3 gen=2 clean`, for messages and test failures.
    public var description: String {
        var parts = ["\(kind)"]
        if let slot { parts.append("slot=\(slot)") }
        parts.append("gen=\(generation)")
        if moved { parts.append("moved") }
        if wake { parts.append("wake") }
        if heat > 0 { parts.append("heat=\(heat)") }
        if clean { parts.append("clean") }
        if forkWindow { parts.append("fork-window") }
        if pinned { parts.append("pinned") }
        return parts.joined(separator: " ")
    }
}
