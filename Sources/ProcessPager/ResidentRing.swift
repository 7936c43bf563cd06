import SystemSupport

/// A reference to one resident page in the ``ResidentRing``: the session, the page and the
/// residency generation it had when the entry was made (a later residency of the same page
/// makes the entry stale).
public struct RingEntry: Sendable, Equatable {
    /// The packed word: page (36 bits) << 20 | session (12 bits) << 8 | generation (8 bits).
    public var rawValue: UInt64

    /// Sessions a ring entry can name.
    public static let sessionLimit = 1 << 12

    /// An entry for `page` of session `session` at `generation`.
    @inlinable
    public init(session: Int, page: UInt64, generation: UInt8) {
        rawValue = page << 20 | UInt64(session & 0xFFF) << 8 | UInt64(generation)
    }

    /// An entry from its word.
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The session index.
    @inlinable public var session: Int { Int((rawValue >> 8) & 0xFFF) }
    /// The page number (address >> 12).
    @inlinable public var page: UInt64 { rawValue >> 20 }
    /// The residency generation.
    @inlinable public var generation: UInt8 { UInt8(truncatingIfNeeded: rawValue) }
}

/// The clock of resident pages: pages enter at the tail when they become resident (fault-in
/// order) and the evictor takes victims from the head; a page marked referenced goes back to
/// the tail once (second chance). Entries are hints: the evictor checks each against the page's
/// state, so stale entries (the page was unmapped, or evicted and faulted in again) are skipped.
///
/// **Memory and ownership.** One array of `capacity` words (a power of two), allocated in `init`
/// and freed in `deinit`; `head` and `tail` are guarded by a `SpinLock` (a push or pop holds it
/// for a few nanoseconds). Invariant: `head <= tail <= head + capacity`; the entries between
/// them, oldest first, are the ring's contents.
public final class ResidentRing: @unchecked Sendable {
    // @unchecked Sendable: every access to entries, head and tail holds the lock.

    /// How many entries the ring holds.
    public let capacity: Int
    private let entries: UnsafeMutablePointer<UInt64>
    private let lock = SpinLock()
    private var head = 0
    private var tail = 0
    private var dropped = 0

    /// A ring for at least `minimumCapacity` entries (rounded up to a power of two).
    public init(minimumCapacity: Int) {
        var size = 1024
        while size < minimumCapacity { size <<= 1 }
        capacity = size
        entries = .allocate(capacity: size)
        entries.initialize(repeating: 0, count: size)
    }

    deinit { entries.deallocate() }

    /// Adds `entry` at the tail. Returns false (and counts it) when the ring is full: the page
    /// is then not in the clock until it is faulted in again.
    @inline(__always) @discardableResult
    public func push(_ entry: RingEntry) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard tail - head < capacity else {
            dropped += 1
            return false
        }
        entries[tail & (capacity - 1)] = entry.rawValue
        tail += 1
        return true
    }

    /// Takes the entry at the head, or nil when the ring is empty.
    @inline(__always)
    public func pop() -> RingEntry? {
        lock.lock()
        defer { lock.unlock() }
        guard head < tail else { return nil }
        let raw = entries[head & (capacity - 1)]
        head += 1
        return RingEntry(rawValue: raw)
    }

    /// Entries in the ring now.
    public var count: Int { lock.withLock { tail - head } }

    /// Pushes refused because the ring was full, since it was made.
    public var droppedCount: Int { lock.withLock { dropped } }

    /// Debug-only: the bounds invariant.
    public func checkInvariants() {
        #if DEBUG
        lock.withLock {
            precondition(head <= tail && tail - head <= capacity, "ring bounds: head \(head) tail \(tail) capacity \(capacity)")
        }
        #endif
    }
}
