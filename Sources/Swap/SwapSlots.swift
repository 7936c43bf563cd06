import Synchronization

/// The swap layer's slot allocator with use counts: the kernel's `swap_map`.
///
/// A slot's count is the number of references on it: one for the page whose contents it holds,
/// plus one for each reader (a fault or a snapshot decompressing from it). A slot is freed only
/// when its count drops to zero, so it is never freed or reused under an in-flight read (the
/// kernel's 2022 zram race). The thread that drops the last reference performs the free the
/// owner asked for (`slotFreeNotify` after a swap-in, or `discard`), while the slot is marked
/// freeing, so the allocator cannot hand it out before the backend has dropped its copy.
///
/// Memory: one atomic word per slot (an ``AtomicArray``), allocated at init and freed with the
/// allocator, which alone owns it.
final class SwapSlots: Sendable {

    /// How the backend is told that a slot is free.
    enum FreeKind: Sendable {
        /// The page read from the slot was installed: `slotFreeNotify` (the seed's free on
        /// swap-in).
        case notify
        /// The slot's contents are stale or unwanted: `discard`.
        case discard
    }

    /// The number of slots (the backend's).
    let slotCount: Int
    private let words: AtomicArray<UInt32>
    private let cursor = Atomic<Int>(0)
    private let used = Atomic<Int>(0)

    private static let countMask: UInt32 = 0x3FFF_FFFF
    private static let notifyBit: UInt32 = 1 << 30
    private static let freeingBit: UInt32 = 1 << 31

    /// `slotCount` free slots.
    init(slotCount: Int) {
        precondition(slotCount > 0 && slotCount <= Int(UInt32.max), "slot count out of range")
        self.slotCount = slotCount
        words = AtomicArray(count: slotCount, initialValue: 0)
    }

    /// Slots with a nonzero count (or being freed).
    var inUse: Int { used.load(ordering: .relaxed) }

    /// More than half the slots are in use: the kernel's `vm_swap_full()`.
    var isMoreThanHalfFull: Bool { inUse * 2 > slotCount }

    /// The count of a slot (0 when free).
    func useCount(_ slot: Int) -> Int {
        Int(words[slot].load(ordering: .acquiring) & Self.countMask)
    }

    /// Allocates a free slot with count 1 (the owner's reference), or nil when all are used.
    func allocate() -> Int? {
        guard used.load(ordering: .relaxed) < slotCount else { return nil }
        let start = cursor.add(1, ordering: .relaxed).oldValue
        guard let index = words.claim(from: start, expected: 0, desired: 1) else { return nil }
        used.add(1, ordering: .relaxed)
        // Scatter concurrent allocators; the next search starts after this slot.
        cursor.store(index + 1, ordering: .relaxed)
        return index
    }

    /// Adds a reader's reference to a slot that is in use.
    @inline(__always)
    func retain(_ slot: Int) {
        let old = words[slot].add(1, ordering: .acquiring).oldValue
        precondition(old & Self.countMask != 0 && old & Self.freeingBit == 0, "retain of a free swap slot \(slot)")
    }

    /// Drops a reference. When it was the last, the caller must free the slot in the backend
    /// with the returned kind and then call ``finishFree(_:)``; otherwise returns nil.
    ///
    /// `kind` is what the owner asks for when it drops its reference; a reader passes nil and,
    /// if it turns out to be the last, performs the free the owner asked for.
    @inline(__always)
    func release(_ slot: Int, asking kind: FreeKind?) -> FreeKind? {
        var old = words[slot].load(ordering: .relaxed)
        while true {
            precondition(old & Self.countMask != 0 && old & Self.freeingBit == 0, "release of a free swap slot \(slot)")
            var new = old - 1
            if kind == .notify { new |= Self.notifyBit }
            if new & Self.countMask == 0 { new = Self.freeingBit | (new & Self.notifyBit) }
            let (exchanged, original) = words[slot].compareExchange(expected: old, desired: new, ordering: .acquiringAndReleasing)
            if exchanged {
                if new & Self.freeingBit != 0 { return new & Self.notifyBit != 0 ? .notify : .discard }
                return nil
            }
            old = original
        }
    }

    /// Marks a slot whose backend copy was dropped free for reuse.
    @inline(__always)
    func finishFree(_ slot: Int) {
        words[slot].store(0, ordering: .releasing)
        used.subtract(1, ordering: .relaxed)
    }

    /// Debug-only check on a quiescent allocator: no slot mid-free, and the in-use counter
    /// matches the slots with a nonzero count. Returns the slots in use.
    @discardableResult
    func checkInvariants() -> Int {
        words.checkInvariants()
        var counted = 0
        for i in 0..<slotCount {
            let w = words[i].load(ordering: .acquiring)
            #if DEBUG
            precondition(w & Self.freeingBit == 0, "slot \(i) is stuck mid-free")
            #endif
            if w & Self.countMask != 0 { counted += 1 }
        }
        #if DEBUG
        precondition(counted == inUse, "in-use counter \(inUse) differs from \(counted) counted slots")
        #endif
        return counted
    }
}
