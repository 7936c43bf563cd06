#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import PageStore

/// `FuzzBlockAllocator`: allocate, free, reserve and query sequences on a `BlockAllocator`
/// against a model (one `Bool` per block).
///
/// Input: a capacity byte (0...255 blocks, so sequences cross 64-bit words and the last
/// partial word), then operations of two bytes each (what, and which block: -2 up to one past
/// the capacity) until the input ends: allocate, free, reserve, query, free everything from a
/// block on, fill up.
///
/// What must hold after every operation: `allocate` returns the lowest free block, or throws
/// `ENOSPC` exactly when none is free; `free` and `reserve` return whether they changed
/// anything, ignore or refuse blocks outside the capacity and change nothing then;
/// `isAllocated`, `allocatedCount`, `freeCount` and `highWaterMark` match the model; and the
/// allocator's own `checkInvariants()` passes (debug builds and the fuzz build).
public final class BlockAllocatorCheck: FuzzCheck {
    public static let name = "FuzzBlockAllocator"
    public static let maximumInputLength = 1024

    public init() {}

    public func check(_ input: UnsafeRawBufferPointer) throws(FuzzFailure) {
        var reader = FuzzInput(input)
        let capacity = Int(reader.byte())
        let blocks = BlockAllocator(capacity: capacity)
        var model = [Bool](repeating: false, count: capacity)
        var used = 0
        var step = 0
        // No block below `searchFrom` is free: `lowestFree()` scans on from there, so a fill
        // costs one pass over the model, not one per block (half the fuzzer's time went into
        // rescanning from block 0).
        var searchFrom = 0
        func lowestFree() -> Int? {
            while searchFrom < capacity && model[searchFrom] { searchFrom += 1 }
            return searchFrom < capacity ? searchFrom : nil
        }
        func release(_ block: Int) {
            model[block] = false
            used -= 1
            searchFrom = min(searchFrom, block)
        }
        func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws(FuzzFailure) {
            if !condition { throw failure(step: step, "capacity \(capacity): " + message()) }
        }
        func allocate() throws(FuzzFailure) {
            let expected = lowestFree()
            switch result(of: { () throws(PageStoreError) in try blocks.allocate() }) {
            case .success(let block):
                try expect(block == expected, "allocate() returned block \(block), the lowest free is \(expected.map(String.init) ?? "none")")
                model[block] = true
                used += 1
            case .failure(.io(ENOSPC, _)):
                try expect(expected == nil, "allocate() threw ENOSPC with block \(expected ?? -1) free")
            case .failure(let error):
                throw failure(step: step, "allocate() threw \(error), not ENOSPC")
            }
        }
        while !reader.isExhausted {
            let op = reader.byte()
            let block = Int(reader.byte()) % (capacity + 4) - 2
            let inRange = block >= 0 && block < capacity
            switch op % 7 {
            case 0, 1:
                try allocate()
            case 2:
                let freed = blocks.free(block)
                try expect(freed == (inRange && model[block]), "free(\(block)) returned \(freed)")
                if freed { release(block) }
            case 3:
                switch result(of: { () throws(PageStoreError) in try blocks.reserve(block) }) {
                case .success(let reserved):
                    try expect(inRange, "reserve(\(block)) outside the capacity did not throw")
                    try expect(reserved == !model[block], "reserve(\(block)) returned \(reserved)")
                    if reserved { model[block] = true; used += 1 }
                case .failure(let error):
                    try expect(error == .slotOutOfRange(slot: block, slotCount: capacity) && !inRange, "reserve(\(block)) threw \(error)")
                }
            case 4:
                try expect(blocks.isAllocated(block) == (inRange && model[block]), "isAllocated(\(block)) is \(blocks.isAllocated(block))")
            case 5:
                // Free every block from `block` on, highest first.
                var b = capacity - 1
                while b >= max(0, block) {
                    try expect(blocks.free(b) == model[b], "free(\(b)) while freeing from \(block) on")
                    if model[b] { release(b) }
                    b -= 1
                }
            default:
                // Fill up, then one more.
                for _ in 0...(capacity - used) { try allocate() }
            }
            try expect(blocks.allocatedCount == used, "allocatedCount \(blocks.allocatedCount), the model has \(used)")
            try expect(blocks.freeCount == capacity - used, "freeCount \(blocks.freeCount), the model has \(capacity - used)")
            let highest = (model.lastIndex(of: true) ?? -1) + 1
            try expect(blocks.highWaterMark == highest, "highWaterMark \(blocks.highWaterMark), the model's is \(highest)")
            #if DEBUG
            blocks.checkInvariants()
            #endif
            step += 1
        }
    }

    /// A few sequences across word boundaries: fill and drain, interleaved frees, reserves.
    public static func seeds() -> [[UInt8]] {
        [
            [64] + Array(repeating: 0, count: 140),  // fill one word exactly, then ENOSPC
            [65, 6, 0, 2, 2, 2, 65, 2, 66, 0, 0, 0, 0, 0, 0, 5, 12, 0, 0],
            [200, 3, 7, 3, 132, 3, 201, 3, 203, 0, 0, 0, 0, 4, 7, 4, 132, 6, 0, 5, 2, 0, 0],
            [0, 0, 0, 2, 0, 3, 2, 6, 0, 4, 1],
            [129, 6, 0, 2, 130, 2, 66, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 5, 102, 6, 0],
            [255, 6, 0, 5, 0, 3, 255, 3, 0, 6, 0, 2, 100, 0, 0],
        ]
    }
}
