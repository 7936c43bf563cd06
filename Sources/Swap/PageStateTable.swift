import Synchronization
import SystemSupport

/// The state of one page of a region, packed in one word so that every transition is a single
/// compare-and-swap.
///
/// Layout: bits 0-1 kind, bit 2 locked, bit 3 dirty, bit 4 write-protected, bit 5 has-slot,
/// bits 6-7 credit (CLOCK second chances), bit 8 poisoned, bits 9-31 eviction stamp, bits 32-63
/// slot.
struct PageState: Equatable, Sendable, CustomStringConvertible {
    /// Where a page's contents are.
    enum Kind: UInt64 {
        /// Never touched (or discarded): reads as zeros.
        case empty = 0
        /// Mapped in the region.
        case resident = 1
        /// Evicted: the contents are in ``PageState/slot``.
        case swapped = 2
        /// Evicted into the victim cache: unmapped, the contents uncompressed in the frame of
        /// ``PageState/stamp`` (``VictimCache``); the other fields as when it was resident
        /// (dirty; a slot only when a stale one was kept).
        case cached = 3
    }

    /// One field of the word: `width` bits starting at bit `shift`.
    struct Field {
        /// The field's lowest bit.
        let shift: UInt64
        /// The field's width in bits.
        let width: UInt64
        /// The field's bits in place.
        var mask: UInt64 { (width == 64 ? .max : (1 << width) - 1) << shift }
    }

    /// The word's layout, low bits first. Computed, not stored: a fault path must never run a
    /// global's lazy initializer (`swift_once` is not async-signal-safe), and these fold to
    /// constants.
    enum Layout {
        @inline(__always) static var kind: Field { Field(shift: 0, width: 2) }
        @inline(__always) static var locked: Field { Field(shift: 2, width: 1) }
        @inline(__always) static var dirty: Field { Field(shift: 3, width: 1) }
        @inline(__always) static var writeProtected: Field { Field(shift: 4, width: 1) }
        @inline(__always) static var hasSlot: Field { Field(shift: 5, width: 1) }
        @inline(__always) static var credit: Field { Field(shift: 6, width: 2) }
        @inline(__always) static var poisoned: Field { Field(shift: 8, width: 1) }
        @inline(__always) static var stamp: Field { Field(shift: 9, width: 23) }
        @inline(__always) static var slot: Field { Field(shift: 32, width: 32) }
    }

    /// The word as stored in the table.
    var raw: UInt64

    /// The state a table word holds.
    init(raw: UInt64) { self.raw = raw }

    /// A page never touched: every field zero.
    static var empty: PageState { PageState(raw: 0) }

    /// The lock bit in place, for the table's compare-and-swap loops.
    @inline(__always) static var lockedBit: UInt64 { Layout.locked.mask }
    /// The number of distinct eviction stamps (stamps wrap modulo this).
    @inline(__always) static var stampModulus: UInt64 { 1 << Layout.stamp.width }
    /// The largest credit a page can hold.
    @inline(__always) static var maximumCredit: UInt64 { Layout.credit.mask >> Layout.credit.shift }

    /// A field's value; setting it keeps only the bits that fit (values wrap modulo 2^width).
    @inline(__always)
    subscript(field: Field) -> UInt64 {
        get { (raw & field.mask) >> field.shift }
        set { raw = (raw & ~field.mask) | ((newValue << field.shift) & field.mask) }
    }

    /// A one-bit field as a flag.
    @inline(__always)
    private subscript(flag field: Field) -> Bool {
        get { self[field] != 0 }
        set { self[field] = newValue ? 1 : 0 }
    }

    /// Where the page's contents are.
    var kind: Kind {
        get { Kind(rawValue: self[Layout.kind]) ?? .empty }
        set { self[Layout.kind] = newValue.rawValue }
    }
    /// A pager thread owns the page (serving a fault, evicting, snapshotting it).
    var isLocked: Bool { get { self[flag: Layout.locked] } set { self[flag: Layout.locked] = newValue } }
    /// The resident page differs from any copy in a slot (or has none): evicting it compresses.
    var isDirty: Bool { get { self[flag: Layout.dirty] } set { self[flag: Layout.dirty] = newValue } }
    /// The resident page is mapped write-protected: its first write traps.
    var isWriteProtected: Bool { get { self[flag: Layout.writeProtected] } set { self[flag: Layout.writeProtected] = newValue } }
    /// The page's address holds a `UFFDIO_POISON` marker (a failed swap-in delivered from a
    /// handler thread): an access raises SIGBUS until the marker is cleared. Only on pages that
    /// are not resident.
    var isPoisoned: Bool { get { self[flag: Layout.poisoned] } set { self[flag: Layout.poisoned] = newValue } }
    /// ``slot`` is meaningful: the page owns one reference on that swap slot.
    var hasSlot: Bool { get { self[flag: Layout.hasSlot] } set { self[flag: Layout.hasSlot] = newValue } }
    /// CLOCK credit: passes of the hand the page survives (saturates at ``maximumCredit``).
    var credit: UInt64 {
        get { self[Layout.credit] }
        set { self[Layout.credit] = min(newValue, Self.maximumCredit) }
    }
    /// The reclaimer's eviction counter when the page was last evicted (modulo ``stampModulus``);
    /// for a cached page, also its victim cache frame.
    var stamp: UInt64 {
        get { self[Layout.stamp] }
        set { self[Layout.stamp] = newValue }
    }
    /// The swap slot holding the page's contents (meaningful with ``hasSlot``).
    var slot: Int {
        get { Int(self[Layout.slot]) }
        set { self[Layout.slot] = UInt64(UInt32(truncatingIfNeeded: newValue)) }
    }

    /// A resident page with no slot, dirty.
    static func residentDirty() -> PageState {
        var s = PageState.empty
        s.kind = .resident
        s.isDirty = true
        return s
    }

    /// The kind and the fields that are set, for failure messages.
    var description: String {
        "\(kind)\(isLocked ? " locked" : "")\(isDirty ? " dirty" : "")\(isWriteProtected ? " wp" : "")\(isPoisoned ? " poisoned" : "")"
            + (hasSlot ? " slot \(slot)" : "") + " credit \(credit)"
    }
}

/// One atomic ``PageState`` word per page of a region.
///
/// Memory: the table owns `pageCount` atomic words (an ``AtomicArray``), allocated at init and
/// freed with the table. Invariants its methods keep: a word changes only by compare-and-swap
/// or by the thread that holds its lock bit (``lock(_:)``/``tryLock(_:if:)`` acquire it,
/// ``unlock(_:to:)`` releases it with release ordering), and an unlocked word always describes
/// what is mapped (resident iff the page is mapped in the region).
final class PageStateTable: Sendable {
    /// The number of pages.
    let pageCount: Int
    private let words: AtomicArray<UInt64>

    /// A table of `pageCount` (at least 1) empty pages.
    init(pageCount: Int) {
        precondition(pageCount > 0, "a page table needs at least one page")
        self.pageCount = pageCount
        words = AtomicArray(count: pageCount, initialValue: PageState.empty.raw)
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
        var wait = SpinWait(yieldAfter: SwapTuning.pageLockSpins)
        while true {
            let current = words[page].load(ordering: .relaxed)
            if current & PageState.lockedBit == 0 {
                if words[page].compareExchange(expected: current, desired: current | PageState.lockedBit, ordering: .acquiring).exchanged {
                    return PageState(raw: current)
                }
            } else {
                wait.spin()
            }
        }
    }

    /// Takes the page's lock if it is free and `accept` holds for the state. Returns the
    /// state (without the lock bit) or nil.
    @inline(__always)
    func tryLock(_ page: Int, if accept: (PageState) -> Bool) -> PageState? {
        let current = words[page].load(ordering: .relaxed)
        guard current & PageState.lockedBit == 0, accept(PageState(raw: current)) else { return nil }
        return words[page].compareExchange(expected: current, desired: current | PageState.lockedBit, ordering: .acquiring).exchanged
            ? PageState(raw: current) : nil
    }

    /// Publishes `state` (whose lock bit must be clear) and releases the lock.
    @inline(__always)
    func unlock(_ page: Int, to state: PageState) {
        assert(!state.isLocked, "unlock publishes an unlocked state")
        words[page].store(state.raw, ordering: .releasing)
    }

    /// Counts pages by kind (a racy snapshot when pages change meanwhile).
    func census() -> (resident: Int, swapped: Int, cached: Int, slotsHeldByResident: Int) {
        var resident = 0, swapped = 0, cached = 0, held = 0
        for i in 0..<pageCount {
            let s = load(i)
            switch s.kind {
            case .resident:
                resident += 1
                if s.hasSlot { held += 1 }
            case .swapped: swapped += 1
            case .cached: cached += 1
            case .empty: break
            }
        }
        return (resident, swapped, cached, held)
    }

    /// Debug-only checks on a quiescent table: no page locked; swapped pages own a slot;
    /// write-protected pages are resident; clean resident pages own a slot; cached pages are
    /// dirty.
    func checkInvariants() {
        #if DEBUG
        words.checkInvariants()
        for i in 0..<pageCount {
            let s = load(i)
            precondition(!s.isLocked, "page \(i) is still locked: \(s)")
            switch s.kind {
            case .swapped: precondition(s.hasSlot, "swapped page \(i) has no slot: \(s)")
            case .resident:
                precondition(s.isDirty || s.hasSlot, "clean resident page \(i) has no slot: \(s)")
                precondition(!s.isPoisoned, "resident page \(i) is marked poisoned: \(s)")
            case .cached:
                precondition(s.isDirty && !s.isWriteProtected && !s.isPoisoned, "cached page \(i) is not dirty and unprotected: \(s)")
            case .empty: precondition(!s.hasSlot && !s.isWriteProtected, "empty page \(i) holds state: \(s)")
            }
        }
        #endif
    }
}
