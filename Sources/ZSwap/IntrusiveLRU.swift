/// The pool's least-recently-used list, threaded through two preallocated arrays indexed by
/// slot (`prev`, `next`), so adding and removing an entry allocates nothing: zswap's
/// `list_lru`, without a node per entry.
///
/// The head is the most recently stored entry; the shrinker takes victims from the tail and
/// rotates referenced ones back to the head (second chance).
///
/// **Memory.** `2 x capacity` 32-bit links allocated in `init`, freed in `deinit`; the struct
/// is `~Copyable` so exactly one owner (the cache's mutex) holds them.
///
/// **Invariant** (``checkInvariants()``): following `next` from the head visits exactly
/// `count` linked slots and ends at the tail, and `prev` mirrors `next`; a slot that is not
/// linked has both links set to `unlinked`.
struct IntrusiveLRU: ~Copyable {
    /// End of the list.
    static let none: UInt32 = .max
    /// Marks a slot that is not on the list.
    static let unlinked: UInt32 = .max - 1

    let capacity: Int
    private let prev: UnsafeMutablePointer<UInt32>
    private let next: UnsafeMutablePointer<UInt32>
    private(set) var head: UInt32 = none
    private(set) var tail: UInt32 = none
    private(set) var count = 0

    /// An empty list over slots `0..<capacity` (fewer than 2^32 - 2).
    init(capacity: Int) {
        precondition(capacity >= 0 && capacity < Int(UInt32.max) - 1, "LRU capacity out of range")
        self.capacity = capacity
        prev = .allocate(capacity: max(1, capacity))
        next = .allocate(capacity: max(1, capacity))
        prev.initialize(repeating: Self.unlinked, count: max(1, capacity))
        next.initialize(repeating: Self.unlinked, count: max(1, capacity))
    }

    deinit {
        prev.deallocate()
        next.deallocate()
    }

    /// Memory the links take.
    var bytes: Int { capacity * 8 }

    /// Whether `slot` is on the list.
    @inline(__always)
    func contains(_ slot: Int) -> Bool { next[slot] != Self.unlinked }

    /// The least recently used slot, or `nil` when empty.
    var last: Int? { tail == Self.none ? nil : Int(tail) }

    /// The most recently used slot, or `nil` when empty.
    var first: Int? { head == Self.none ? nil : Int(head) }

    /// Puts `slot` at the head (most recent), moving it there if it is already on the list.
    @inline(__always)
    mutating func pushFront(_ slot: Int) {
        if contains(slot) {
            if head == UInt32(slot) { return }
            remove(slot)
        }
        let s = UInt32(slot)
        prev[slot] = Self.none
        next[slot] = head
        if head != Self.none { prev[Int(head)] = s } else { tail = s }
        head = s
        count += 1
    }

    /// Takes `slot` off the list; does nothing if it is not on it.
    @inline(__always)
    mutating func remove(_ slot: Int) {
        guard contains(slot) else { return }
        let p = prev[slot], n = next[slot]
        if p != Self.none { next[Int(p)] = n } else { head = n }
        if n != Self.none { prev[Int(n)] = p } else { tail = p }
        prev[slot] = Self.unlinked
        next[slot] = Self.unlinked
        count -= 1
    }

    /// The slots from most to least recent (for tests and reports; allocates).
    func orderedSlots() -> [Int] {
        var out: [Int] = []
        var s = head
        while s != Self.none && out.count <= count {
            out.append(Int(s))
            s = next[Int(s)]
        }
        return out
    }

    #if DEBUG
    /// Verifies the documented invariant.
    func checkInvariants() {
        var seen = 0
        var s = head
        var before = Self.none
        while s != Self.none {
            precondition(seen < count + 1, "the list is longer than its count \(count) (a cycle?)")
            precondition(prev[Int(s)] == before, "prev of \(s) is \(prev[Int(s)]), expected \(before)")
            before = s
            s = next[Int(s)]
            seen += 1
        }
        precondition(before == tail, "the list ends at \(before), tail is \(tail)")
        precondition(seen == count, "\(seen) linked slots, \(count) counted")
        var linked = 0
        for i in 0..<capacity where contains(i) { linked += 1 }
        for i in 0..<capacity where !contains(i) {
            precondition(prev[i] == Self.unlinked, "unlinked slot \(i) has a prev link")
        }
        precondition(linked == count, "\(linked) slots marked linked, \(count) counted")
    }
    #endif
}
