import Synchronization

/// The rule of the kernel's `zram_slot_free_notify`, with its two counters, for every backend
/// that frees on a swap slot free notification (``SwapBackend/slotFreeNotify(_:)``).
///
/// A notification counts `notify_free`, then only *tries* the slot's lock: the swap layer sends
/// it from a path that must not wait. When the slot is busy (another operation holds it), it
/// counts `miss_free` and the copy stays until the slot is overwritten or discarded.
///
/// ```swift
/// guard notifications.notify(takingLock: { table.tryLock(slot) }) else { return }
/// // free the slot's copy, then unlock it
/// ```
///
/// Relaxed atomics: each counter is exact on its own.
public final class SlotFreeNotifyCounters: Sendable {
    private let notified = Atomic<Int>(0)
    private let missed = Atomic<Int>(0)

    /// Both zero.
    public init() {}

    /// notify_free: notifications received.
    public var notifyFree: Int { notified.load(ordering: .relaxed) }
    /// miss_free: notifications that found the slot busy and kept the copy.
    public var missFree: Int { missed.load(ordering: .relaxed) }

    /// Counts a notification and tries the slot's lock with `tryLock`. Returns `true` when the
    /// lock was taken (the caller frees the copy and unlocks), `false` when the slot was busy
    /// (counted as a miss; the caller leaves the copy alone).
    @inline(__always)
    public func notify(takingLock tryLock: () -> Bool) -> Bool {
        notified.add(1, ordering: .relaxed)
        if tryLock() { return true }
        missed.add(1, ordering: .relaxed)
        return false
    }

    /// Sets both counters to zero (a device reset).
    public func reset() {
        notified.store(0, ordering: .relaxed)
        missed.store(0, ordering: .relaxed)
    }
}
