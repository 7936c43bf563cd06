import Synchronization
import SystemSupport

/// Where a slot's page lives in a ``FrontswapCache``.
public enum SlotLocation: UInt32, Sendable, Hashable {
    /// The slot holds nothing.
    case empty = 0
    /// Compressed (or same-filled, or raw) in the pool.
    case pool = 1
    /// In the slot's block of the backing file.
    case file = 2
}

/// What a slot's pool entry is: where its object is and how to read it back.
struct PoolEntry: Equatable {
    /// The pool handle's raw value, or the repeated word of a same-filled page.
    var handle: UInt64
    /// The object's size in bytes (the page size for a raw page, 0 when same-filled).
    var size: Int
    /// The page is one word repeated (`handle`); it has no pool object.
    var isSameFilled: Bool
    /// The object is the page itself, uncompressed.
    var isRaw: Bool
}

/// The cache's one slot table: per slot, an atomic state word (lock, ``SlotLocation``,
/// referenced bit, and for a pool entry its size and kind) and the pool handle. One table, one
/// lock per slot, as zswap's `zswap_entry` in its xarray.
///
/// **Layout.** Word bit 0 = lock, bits 1-2 = location, bit 3 = referenced (loaded since the
/// shrinker last looked at the entry: its second chance), bit 4 = same-filled, bit 5 = raw,
/// bits 8-31 = object size. The handle array holds a `ZsHandle`'s raw value, or the word of a
/// same-filled page.
///
/// **Memory.** `count` atomic words (an `AtomicArray`) and `count` handles, allocated in
/// `init`, freed with this object, their only owner.
///
/// **Locking.** The lock bit is taken by compare-and-swap (acquire) and dropped by clearing it
/// (release). Only the lock holder reads or changes the handle, the location and the size; the
/// referenced bit may be set by the lock holder and cleared by the shrinker without the lock
/// (atomic and/or), so changes of the rest use a compare-and-swap loop that keeps the lock bit.
///
/// **Invariant** (``checkInvariants()``): when no operation runs, no slot is locked; the
/// location field is a valid ``SlotLocation``; a slot not in the pool has no size, kind or
/// handle; a same-filled entry has size 0 and a raw one is not same-filled.
final class SlotEntries: @unchecked Sendable {
    // @unchecked Sendable: the words are atomics; handles are guarded by the slot locks; the
    // pointer never changes after init.
    let count: Int
    private let words: AtomicArray<UInt32>
    private let handles: UnsafeMutablePointer<UInt64>

    static let lockBit: UInt32 = 1
    static let locationShift: UInt32 = 1
    static let locationMask: UInt32 = 3 << 1
    static let referencedBit: UInt32 = 1 << 3
    static let sameFilledBit: UInt32 = 1 << 4
    static let rawBit: UInt32 = 1 << 5
    static let sizeShift: UInt32 = 8

    /// A table of `count` empty slots.
    init(count: Int) {
        self.count = count
        words = AtomicArray(count: count, repeating: 0)
        handles = .allocate(capacity: max(1, count))
        handles.initialize(repeating: 0, count: max(1, count))
    }

    deinit {
        handles.deallocate()
    }

    /// Memory the table holds (12 bytes per slot).
    var bytes: Int { count * (MemoryLayout<UInt32>.stride + MemoryLayout<UInt64>.stride) }

    // MARK: Lock

    /// Takes slot `i`'s lock, spinning then yielding (`SpinWait`) while another thread holds it.
    @inline(__always)
    func lock(_ i: Int) {
        var wait = SpinWait()
        while !tryLock(i) { wait.spin() }
    }

    /// Takes slot `i`'s lock if nobody holds it.
    @inline(__always)
    func tryLock(_ i: Int) -> Bool {
        var word = words[i].load(ordering: .relaxed)
        while word & Self.lockBit == 0 {
            let (done, seen) = words[i].compareExchange(
                expected: word, desired: word | Self.lockBit, successOrdering: .acquiring, failureOrdering: .relaxed)
            if done { return true }
            word = seen
        }
        return false
    }

    /// Drops slot `i`'s lock; the caller holds it.
    @inline(__always)
    func unlock(_ i: Int) {
        words[i].bitwiseAnd(~Self.lockBit, ordering: .releasing)
    }

    /// Whether slot `i` is locked (a racy peek).
    func isLocked(_ i: Int) -> Bool { words[i].load(ordering: .relaxed) & Self.lockBit != 0 }

    // MARK: Entry (the caller holds the lock, except for peeks)

    /// Where slot `i`'s page lives (exact for the lock holder, a racy peek otherwise).
    @inline(__always)
    func location(_ i: Int) -> SlotLocation {
        SlotLocation(rawValue: (words[i].load(ordering: .relaxed) & Self.locationMask) >> Self.locationShift) ?? .empty
    }

    /// Slot `i`'s pool entry; the caller holds the lock and the slot is in the pool.
    @inline(__always)
    func poolEntry(_ i: Int) -> PoolEntry {
        let word = words[i].load(ordering: .relaxed)
        return PoolEntry(
            handle: handles[i], size: Int(word >> Self.sizeShift), isSameFilled: word & Self.sameFilledBit != 0,
            isRaw: word & Self.rawBit != 0)
    }

    /// Makes slot `i` a pool entry and clears its referenced bit; the caller holds the lock.
    @inline(__always)
    func setPoolEntry(_ i: Int, _ entry: PoolEntry) {
        handles[i] = entry.handle
        var fields = SlotLocation.pool.rawValue << Self.locationShift | UInt32(entry.size) << Self.sizeShift
        if entry.isSameFilled { fields |= Self.sameFilledBit }
        if entry.isRaw { fields |= Self.rawBit }
        replaceFields(i, fields)
    }

    /// Sets slot `i`'s location to the file or empty (no pool entry) and clears its referenced
    /// bit; the caller holds the lock.
    @inline(__always)
    func setLocation(_ i: Int, _ location: SlotLocation) {
        assert(location != .pool, "a pool entry is set with setPoolEntry")
        handles[i] = 0
        replaceFields(i, location.rawValue << Self.locationShift)
    }

    /// Replaces every field but the lock bit (referenced cleared), whatever the shrinker does
    /// to the referenced bit meanwhile.
    @inline(__always)
    private func replaceFields(_ i: Int, _ fields: UInt32) {
        var word = words[i].load(ordering: .relaxed)
        while true {
            let (done, seen) = words[i].compareExchange(
                expected: word, desired: (word & Self.lockBit) | fields, successOrdering: .relaxed, failureOrdering: .relaxed)
            if done { return }
            word = seen
        }
    }

    /// Points slot `i`'s pool entry at another object (compaction moved it); the caller holds
    /// the lock.
    @inline(__always)
    func setHandle(_ i: Int, _ handle: UInt64) { handles[i] = handle }

    /// Marks slot `i` referenced (it was loaded).
    @inline(__always)
    func markReferenced(_ i: Int) {
        words[i].bitwiseOr(Self.referencedBit, ordering: .relaxed)
    }

    /// Clears slot `i`'s referenced bit and says whether it was set.
    @inline(__always)
    func clearReferenced(_ i: Int) -> Bool {
        words[i].bitwiseAnd(~Self.referencedBit, ordering: .relaxed).oldValue & Self.referencedBit != 0
    }

    /// Whether slot `i` is referenced (a racy peek).
    func isReferenced(_ i: Int) -> Bool { words[i].load(ordering: .relaxed) & Self.referencedBit != 0 }

    #if DEBUG
    /// Verifies the documented invariant; call while no operation runs. Debug builds only.
    func checkInvariants() {
        let known = Self.lockBit | Self.locationMask | Self.referencedBit | Self.sameFilledBit | Self.rawBit
            | ~((1 << Self.sizeShift) - 1)
        for i in 0..<count {
            let word = words[i].load(ordering: .acquiring)
            precondition(word & Self.lockBit == 0, "slot \(i) is still locked")
            precondition((word & Self.locationMask) >> Self.locationShift <= 2, "slot \(i) has a bad location")
            precondition(word & ~known == 0, "slot \(i) has stray bits")
            if location(i) != .pool {
                precondition(word >> Self.sizeShift == 0 && word & (Self.sameFilledBit | Self.rawBit) == 0, "slot \(i) outside the pool has a pool entry")
                precondition(handles[i] == 0, "slot \(i) outside the pool has handle \(handles[i])")
            } else {
                let entry = poolEntry(i)
                if entry.isSameFilled { precondition(entry.size == 0 && !entry.isRaw, "same-filled slot \(i) has an object") }
                else { precondition(entry.size > 0, "pool slot \(i) has no object size") }
            }
        }
    }
    #endif
}
