/// Handles freed by the caller whose keys are not deleted yet: a ring the maintenance thread (or
/// a freeing thread, when it is nearly full) drains in pipelined UNLINK batches.
///
/// An entry is a handle, with ``cleanupBit`` set for the key of a write that was not
/// acknowledged (it may have landed anyway; deleting it is housekeeping, not a caller's free).
///
/// **Memory and ownership.** One allocation of `capacity` handles, made in `init` and freed in
/// `deinit`; the queue is one value inside the tier's `Mutex`, so one thread at a time uses it.
///
/// **Invariant.** `0 <= count <= capacity`; entries live at `(head + k) % capacity` for
/// `k < count`.
struct FreeQueue: ~Copyable {
    /// Marks a handle whose key belongs to a refused write.
    static let cleanupBit: UInt64 = 1 << 63

    /// How many handles it holds at most.
    let capacity: Int
    private let entries: UnsafeMutablePointer<UInt64>
    private var head = 0
    /// How many handles it holds.
    private(set) var count = 0

    /// An empty queue for `capacity` handles.
    init(capacity: Int) {
        precondition(capacity > 0, "a queue needs room")
        self.capacity = capacity
        entries = .allocate(capacity: capacity)
    }

    deinit { entries.deallocate() }

    /// Adds `handle`; false (and nothing added) when the queue is full.
    mutating func push(_ handle: UInt64) -> Bool {
        guard count < capacity else { return false }
        entries[(head + count) % capacity] = handle
        count += 1
        return true
    }

    /// Removes and returns the oldest handle, or `nil`.
    mutating func pop() -> UInt64? {
        guard count > 0 else { return nil }
        let handle = entries[head]
        head = (head + 1) % capacity
        count -= 1
        return handle
    }

    /// Checks the invariant; debug builds only.
    func checkInvariants() {
        #if DEBUG
        precondition(count >= 0 && count <= capacity && head >= 0 && head < capacity, "free queue indices out of range")
        #endif
    }
}
