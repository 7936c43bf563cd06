import Synchronization
import SystemSupport

/// Hands out block indices of a backing file, lowest free block first, so a file that was once
/// full refills from its start and its tail can be truncated or punched: the kernel zram's
/// `bitmap` of backing-device blocks.
///
/// ```swift
/// let blocks = BlockAllocator(capacity: 1024)
/// let block = try blocks.allocate()   // 0, then 1, ...
/// blocks.free(block)                  // the next allocate() returns it again
/// ```
///
/// Costs one bit per block plus a few counters; ``allocate()`` scans 64 blocks per step from
/// the lowest word that may hold a free block, so it allocates nothing.
///
/// **Thread safety.** Every operation takes one mutex for a few word operations.
public final class BlockAllocator: Sendable {
    /// How many blocks there are.
    public let capacity: Int
    private let state: Mutex<Bitmap>

    /// A bitmap of `capacity` bits (1 = allocated), owned by the allocator's mutex.
    ///
    /// **Memory.** `words` holds `(capacity + 63) / 64` words, allocated in `init` and freed in
    /// `deinit`; bits at or past `capacity` are always zero. **Invariant**: `used` equals the
    /// number of set bits, and every word below `lowestFreeWord` is full.
    struct Bitmap: ~Copyable {
        let words: UnsafeMutablePointer<UInt64>
        let wordCount: Int
        let capacity: Int
        var used = 0
        var lowestFreeWord = 0

        init(capacity: Int) {
            self.capacity = capacity
            wordCount = (capacity + 63) / 64
            words = .allocate(capacity: max(1, wordCount))
            words.initialize(repeating: 0, count: max(1, wordCount))
        }

        deinit { words.deallocate() }

        /// The bits of word `w` that stand for real blocks.
        func mask(_ w: Int) -> UInt64 {
            let bits = min(64, capacity - 64 * w)
            return bits == 64 ? ~0 : (UInt64(1) << UInt64(bits)) - 1
        }

        mutating func allocate() -> Int? {
            var w = lowestFreeWord
            while w < wordCount {
                let free = ~words[w] & mask(w)
                if free != 0 {
                    let bit = free.trailingZeroBitCount
                    words[w] |= UInt64(1) << UInt64(bit)
                    used += 1
                    lowestFreeWord = w
                    return 64 * w + bit
                }
                w += 1
            }
            lowestFreeWord = wordCount
            return nil
        }

        func isSet(_ block: Int) -> Bool { words[block >> 6] & (UInt64(1) << UInt64(block & 63)) != 0 }

        mutating func set(_ block: Int) -> Bool {
            let bit = UInt64(1) << UInt64(block & 63)
            guard words[block >> 6] & bit == 0 else { return false }
            words[block >> 6] |= bit
            used += 1
            return true
        }

        mutating func clear(_ block: Int) -> Bool {
            let bit = UInt64(1) << UInt64(block & 63)
            guard words[block >> 6] & bit != 0 else { return false }
            words[block >> 6] &= ~bit
            used -= 1
            lowestFreeWord = min(lowestFreeWord, block >> 6)
            return true
        }

        func highestAllocated() -> Int? {
            var w = wordCount - 1
            while w >= 0 {
                if words[w] != 0 { return 64 * w + 63 - words[w].leadingZeroBitCount }
                w -= 1
            }
            return nil
        }
    }

    /// An allocator of `capacity` blocks, all free.
    public init(capacity: Int) {
        precondition(capacity >= 0, "a block allocator needs a capacity of 0 or more blocks")
        self.capacity = capacity
        state = Mutex(Bitmap(capacity: capacity))
    }

    /// Takes the lowest free block.
    ///
    /// - Throws: `.io(errno: ENOSPC, ...)` when every block is in use (the file is full, as a
    ///   full swap device is): free blocks or use a larger file.
    public func allocate() throws(PageStoreError) -> Int {
        let block = state.withLock { $0.allocate() }
        guard let block else {
            throw .io(
                errno: ENOSPC,
                operation: "allocate a block: all \(capacity) blocks of the backing file are in use; free some or use a larger file")
        }
        return block
    }

    /// Marks a particular block as allocated (e.g. restoring a saved layout).
    ///
    /// - Returns: `false` when it was already allocated.
    /// - Throws: ``PageStoreError/slotOutOfRange(slot:slotCount:)`` for a block outside
    ///   `0..<capacity`.
    @discardableResult
    public func reserve(_ block: Int) throws(PageStoreError) -> Bool {
        guard block >= 0 && block < capacity else { throw .slotOutOfRange(slot: block, slotCount: capacity) }
        return state.withLock { $0.set(block) }
    }

    /// Returns `block` to the free blocks.
    ///
    /// - Returns: `false` when it was not allocated or is out of range (nothing changes).
    @discardableResult
    public func free(_ block: Int) -> Bool {
        guard block >= 0 && block < capacity else { return false }
        return state.withLock { $0.clear(block) }
    }

    /// Whether `block` is allocated (`false` out of range).
    public func isAllocated(_ block: Int) -> Bool {
        guard block >= 0 && block < capacity else { return false }
        return state.withLock { $0.isSet(block) }
    }

    /// Blocks in use.
    public var allocatedCount: Int { state.withLock { $0.used } }

    /// Blocks free.
    public var freeCount: Int { capacity - allocatedCount }

    /// One past the highest allocated block (0 when none): the file can be truncated to it.
    public var highWaterMark: Int { state.withLock { ($0.highestAllocated() ?? -1) + 1 } }

    #if DEBUG
    /// Verifies the bitmap's invariant (count matches the bits; words below the search start
    /// are full; no bit past the capacity).
    public func checkInvariants() {
        state.withLock { map in
            var bits = 0
            for w in 0..<map.wordCount {
                precondition(map.words[w] & ~map.mask(w) == 0, "word \(w) has bits past the capacity")
                bits += map.words[w].nonzeroBitCount
                if w < map.lowestFreeWord {
                    precondition(map.words[w] == map.mask(w), "word \(w) below the search start is not full")
                }
            }
            precondition(bits == map.used, "\(bits) bits set, \(map.used) counted")
        }
    }
    #endif
}
