#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Where a slot's page lives in a ``FrontswapCache``.
public enum SlotLocation: UInt32, Sendable, Hashable {
    /// The slot holds nothing.
    case empty = 0
    /// Compressed (or same-filled, or raw) in the pool.
    case pool = 1
    /// In the slot's block of the backing file.
    case file = 2
}

/// One atomic word per slot: the slot's lock, its ``SlotLocation`` and its referenced bit.
///
/// **Layout.** bit 0 = lock, bits 1-2 = location, bit 3 = referenced (loaded since the
/// shrinker last looked at the entry: its second chance).
///
/// **Memory.** `count` atomic words allocated in `init`, freed in `deinit`, owned by this object.
///
/// **Locking.** The lock bit is taken by compare-and-swap (acquire) and dropped by clearing it
/// (release). Only the lock holder changes the location; the referenced bit may be set by the
/// lock holder and cleared by the shrinker without the lock (atomic and/or), so location
/// changes use a compare-and-swap loop that keeps it.
///
/// **Invariant** (``checkInvariants()``): when no operation runs, no slot is locked and the
/// location field is a valid ``SlotLocation``.
final class SlotStates: @unchecked Sendable {
    // @unchecked Sendable: the words are atomics; the pointer never changes after init.
    let count: Int
    private let words: UnsafeMutablePointer<Atomic<UInt32>>

    static let lockBit: UInt32 = 1
    static let locationShift: UInt32 = 1
    static let locationMask: UInt32 = 3 << 1
    static let referencedBit: UInt32 = 1 << 3

    init(count: Int) {
        self.count = count
        words = .allocate(capacity: max(1, count))
        for i in 0..<count { (words + i).initialize(to: Atomic(0)) }
    }

    deinit {
        words.deinitialize(count: count)
        words.deallocate()
    }

    /// Memory the table holds.
    var bytes: Int { count * 4 }

    /// Takes slot `i`'s lock, spinning then yielding while another thread holds it.
    @inline(__always)
    func lock(_ i: Int) {
        var spins = 0
        while !tryLock(i) {
            spins += 1
            if spins > 64 {
                _ = sched_yield()
                spins = 0
            }
        }
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

    /// Where slot `i`'s page lives (exact for the lock holder, a racy peek otherwise).
    @inline(__always)
    func location(_ i: Int) -> SlotLocation {
        SlotLocation(rawValue: (words[i].load(ordering: .relaxed) & Self.locationMask) >> Self.locationShift) ?? .empty
    }

    /// Sets slot `i`'s location and clears its referenced bit; the caller holds the lock.
    @inline(__always)
    func setLocation(_ i: Int, _ location: SlotLocation) {
        var word = words[i].load(ordering: .relaxed)
        while true {
            let desired = (word & Self.lockBit) | (location.rawValue << Self.locationShift)
            let (done, seen) = words[i].compareExchange(
                expected: word, desired: desired, successOrdering: .relaxed, failureOrdering: .relaxed)
            if done { return }
            word = seen
        }
    }

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

    /// Whether slot `i` is locked (a racy peek).
    func isLocked(_ i: Int) -> Bool { words[i].load(ordering: .relaxed) & Self.lockBit != 0 }

    #if DEBUG
    /// Verifies the documented invariant; call while no operation runs.
    func checkInvariants() {
        for i in 0..<count {
            let word = words[i].load(ordering: .acquiring)
            precondition(word & Self.lockBit == 0, "slot \(i) is still locked")
            precondition((word & Self.locationMask) >> Self.locationShift <= 2, "slot \(i) has a bad location")
            precondition(word & ~(Self.lockBit | Self.locationMask | Self.referencedBit) == 0, "slot \(i) has stray bits")
        }
    }
    #endif
}
