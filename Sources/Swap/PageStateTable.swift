#if os(Linux)
import Glibc
#endif
import Synchronization

/// The state of one page of a region, packed in one word so that every transition is a single
/// compare-and-swap.
///
/// Layout: bits 0-1 kind, bit 2 locked, bit 3 dirty, bit 4 write-protected, bit 5 has-slot,
/// bits 6-7 credit (CLOCK second chances), bits 8-31 eviction stamp, bits 32-63 slot.
struct PageState: Equatable, Sendable, CustomStringConvertible {
    /// Where a page's contents are.
    enum Kind: UInt64 {
        /// Never touched (or discarded): reads as zeros.
        case empty = 0
        /// Mapped in the region.
        case resident = 1
        /// Evicted: the contents are in ``PageState/slot``.
        case swapped = 2
    }

    var raw: UInt64

    init(raw: UInt64) { self.raw = raw }

    static let empty = PageState(raw: 0)

    private static let kindMask: UInt64 = 0b11
    private static let lockedBit: UInt64 = 1 << 2
    private static let dirtyBit: UInt64 = 1 << 3
    private static let writeProtectedBit: UInt64 = 1 << 4
    private static let hasSlotBit: UInt64 = 1 << 5
    private static let creditShift: UInt64 = 6
    private static let creditMask: UInt64 = 0b11 << 6
    private static let stampShift: UInt64 = 8
    private static let stampMask: UInt64 = 0xFF_FFFF << 8
    /// The number of distinct eviction stamps (stamps wrap modulo this).
    static let stampModulus: UInt64 = 1 << 24
    /// The largest credit a page can hold.
    static let maximumCredit: UInt64 = 3

    var kind: Kind {
        get { Kind(rawValue: raw & Self.kindMask) ?? .empty }
        set { raw = (raw & ~Self.kindMask) | newValue.rawValue }
    }
    var isLocked: Bool {
        get { raw & Self.lockedBit != 0 }
        set { raw = newValue ? raw | Self.lockedBit : raw & ~Self.lockedBit }
    }
    /// The resident page differs from any copy in a slot (or has none): evicting it compresses.
    var isDirty: Bool {
        get { raw & Self.dirtyBit != 0 }
        set { raw = newValue ? raw | Self.dirtyBit : raw & ~Self.dirtyBit }
    }
    /// The resident page is mapped write-protected: its first write traps.
    var isWriteProtected: Bool {
        get { raw & Self.writeProtectedBit != 0 }
        set { raw = newValue ? raw | Self.writeProtectedBit : raw & ~Self.writeProtectedBit }
    }
    /// ``slot`` is meaningful: the page owns one reference on that swap slot.
    var hasSlot: Bool {
        get { raw & Self.hasSlotBit != 0 }
        set { raw = newValue ? raw | Self.hasSlotBit : raw & ~Self.hasSlotBit }
    }
    /// CLOCK credit: passes of the hand the page survives.
    var credit: UInt64 {
        get { (raw & Self.creditMask) >> Self.creditShift }
        set { raw = (raw & ~Self.creditMask) | (min(newValue, Self.maximumCredit) << Self.creditShift) }
    }
    /// The reclaimer's eviction counter when the page was last evicted (modulo 2^24).
    var stamp: UInt64 {
        get { (raw & Self.stampMask) >> Self.stampShift }
        set { raw = (raw & ~Self.stampMask) | ((newValue % Self.stampModulus) << Self.stampShift) }
    }
    var slot: Int {
        get { Int(raw >> 32) }
        set { raw = (raw & 0xFFFF_FFFF) | (UInt64(UInt32(truncatingIfNeeded: newValue)) << 32) }
    }

    /// A resident page with no slot, dirty.
    static func residentDirty() -> PageState {
        var s = PageState.empty
        s.kind = .resident
        s.isDirty = true
        return s
    }

    var description: String {
        "\(kind)\(isLocked ? " locked" : "")\(isDirty ? " dirty" : "")\(isWriteProtected ? " wp" : "")"
            + (hasSlot ? " slot \(slot)" : "") + " credit \(credit)"
    }
}

/// One atomic ``PageState`` word per page of a region.
///
/// Memory: the table allocates `pageCount` words at init and frees them in deinit; nothing
/// else holds the pointer. Invariants its methods keep: a word changes only by compare-and-swap
/// or by the thread that holds its lock bit (``lock(_:)``/``tryLock(_:)`` acquire it,
/// ``unlock(_:to:)`` releases it with release ordering), and an unlocked word always describes
/// what is mapped (resident iff the page is mapped in the region).
final class PageStateTable: @unchecked Sendable {
    // @unchecked Sendable: the words are atomics; the pointer itself never changes.
    let pageCount: Int
    private let words: UnsafeMutablePointer<Atomic<UInt64>>

    init(pageCount: Int) {
        precondition(pageCount > 0, "a page table needs at least one page")
        self.pageCount = pageCount
        words = .allocate(capacity: pageCount)
        for i in 0..<pageCount { (words + i).initialize(to: Atomic<UInt64>(0)) }
    }

    deinit {
        words.deinitialize(count: pageCount)
        words.deallocate()
    }

    /// The current state (acquiring).
    @inline(__always)
    func load(_ page: Int) -> PageState {
        PageState(raw: words[page].load(ordering: .acquiring))
    }

    /// Replaces `expected` by `desired` if the word still equals `expected`.
    @inline(__always)
    func compareExchange(_ page: Int, expected: PageState, desired: PageState) -> Bool {
        words[page].compareExchange(expected: expected.raw, desired: desired.raw, ordering: .acquiringAndReleasing).exchanged
    }

    /// Takes the page's lock, waiting (spinning, then yielding) while another thread holds it.
    /// Returns the state as it was when locked, without the lock bit.
    ///
    /// Only ever waits for a thread that is inside the pager (serving a fault, evicting or
    /// snapshotting this page), which never waits for the caller: no deadlock.
    @inline(__always)
    func lock(_ page: Int) -> PageState {
        var spins = 0
        while true {
            let current = words[page].load(ordering: .relaxed)
            if current & (1 << 2) == 0 {
                if words[page].compareExchange(expected: current, desired: current | (1 << 2), ordering: .acquiring).exchanged {
                    return PageState(raw: current)
                }
            } else {
                spins += 1
                if spins > 64 { sched_yield() }
            }
        }
    }

    /// Takes the page's lock if it is free and `accept` holds for the state. Returns the
    /// state (without the lock bit) or nil.
    @inline(__always)
    func tryLock(_ page: Int, if accept: (PageState) -> Bool) -> PageState? {
        let current = words[page].load(ordering: .relaxed)
        guard current & (1 << 2) == 0, accept(PageState(raw: current)) else { return nil }
        return words[page].compareExchange(expected: current, desired: current | (1 << 2), ordering: .acquiring).exchanged
            ? PageState(raw: current) : nil
    }

    /// Publishes `state` (whose lock bit must be clear) and releases the lock.
    @inline(__always)
    func unlock(_ page: Int, to state: PageState) {
        assert(!state.isLocked, "unlock publishes an unlocked state")
        words[page].store(state.raw, ordering: .releasing)
    }

    /// Counts pages by kind (a racy snapshot when pages change meanwhile).
    func census() -> (resident: Int, swapped: Int, slotsHeldByResident: Int) {
        var resident = 0, swapped = 0, held = 0
        for i in 0..<pageCount {
            let s = load(i)
            switch s.kind {
            case .resident:
                resident += 1
                if s.hasSlot { held += 1 }
            case .swapped: swapped += 1
            case .empty: break
            }
        }
        return (resident, swapped, held)
    }

    /// Debug-only checks on a quiescent table: no page locked; swapped pages own a slot;
    /// write-protected pages are resident; clean resident pages own a slot.
    func checkInvariants() {
        #if DEBUG
        for i in 0..<pageCount {
            let s = load(i)
            precondition(!s.isLocked, "page \(i) is still locked: \(s)")
            switch s.kind {
            case .swapped: precondition(s.hasSlot, "swapped page \(i) has no slot: \(s)")
            case .resident: precondition(s.isDirty || s.hasSlot, "clean resident page \(i) has no slot: \(s)")
            case .empty: precondition(!s.hasSlot && !s.isWriteProtected, "empty page \(i) holds state: \(s)")
            }
        }
        #endif
    }
}
