import Synchronization

/// Up to 64 flags in one atomic word, taken and given back by compare-and-swap: which swap
/// cache frames and which file-read requests are in use, which requests wait for an I/O thread.
///
/// Lock-free and allocation-free, so a signal handler may use it. Invariant: only the low
/// ``capacity`` bits are ever set.
struct AtomicBitmap: ~Copyable, Sendable {
    /// The number of flags (1...64).
    let capacity: Int
    private let bits = Atomic<UInt64>(0)
    /// The low `capacity` bits.
    private let all: UInt64

    /// `capacity` (1...64) clear flags.
    init(capacity: Int) {
        precondition(capacity >= 1 && capacity <= 64, "an atomic bitmap holds 1...64 flags")
        self.capacity = capacity
        all = capacity == 64 ? .max : (1 << UInt64(capacity)) - 1
    }

    /// Sets the lowest clear flag and returns its index (acquiring), or nil when all are set.
    @inline(__always)
    func setLowestClear() -> Int? {
        var current = bits.load(ordering: .relaxed)
        while true {
            let clear = ~current & all
            guard clear != 0 else { return nil }
            let index = clear.trailingZeroBitCount
            let (exchanged, original) = bits.compareExchange(
                expected: current, desired: current | (1 << UInt64(index)), ordering: .acquiring)
            if exchanged { return index }
            current = original
        }
    }

    /// Clears the lowest set flag and returns its index (acquiring and releasing), or nil when
    /// none is set.
    @inline(__always)
    func clearLowestSet() -> Int? {
        var current = bits.load(ordering: .acquiring)
        while current != 0 {
            let index = current.trailingZeroBitCount
            let (exchanged, original) = bits.compareExchange(
                expected: current, desired: current & ~(1 << UInt64(index)), ordering: .acquiringAndReleasing)
            if exchanged { return index }
            current = original
        }
        return nil
    }

    /// Sets flag `index` (sequentially consistent: a submission that a sleeper checks for).
    @inline(__always)
    func set(_ index: Int) {
        bits.bitwiseOr(1 << UInt64(index), ordering: .sequentiallyConsistent)
    }

    /// Clears flag `index` (releasing: what its holder wrote is published to the next taker).
    @inline(__always)
    func clear(_ index: Int) {
        bits.bitwiseAnd(~(1 << UInt64(index)), ordering: .releasing)
    }

    /// The flags now (sequentially consistent: a sleeper's last look before it sleeps).
    @inline(__always)
    func load() -> UInt64 {
        bits.load(ordering: .sequentiallyConsistent)
    }

    /// How many flags are set now.
    var setCount: Int { bits.load(ordering: .relaxed).nonzeroBitCount }

    /// Debug-only: no flag beyond ``capacity`` is set.
    func checkInvariants() {
        #if DEBUG
        precondition(load() & ~all == 0, "a flag beyond the bitmap's capacity is set")
        #endif
    }
}
