import Synchronization
import SystemPackage
import SystemSupport

/// The frames of the victim cache: the most recently evicted dirty pages, kept uncompressed and
/// unmapped in a ring in eviction order, so that the page with eviction stamp `s` sits in frame
/// `s % capacity` until the eviction `capacity` stamps later needs the frame and compresses it
/// into the backend ("pushes it out").
///
/// userfaultfd reports no accessed bit, so a page the application still uses looks cold once
/// CLOCK's credit runs out. In the ring its next touch shows it is in use: the fault installs
/// the frame's copy (no decompression, no read) and the page comes back with the credit of a
/// short refault, as a page the kernel finds referenced on its inactive list goes back to the
/// active one; a page nobody touches while it passes through the ring is compressed once, as
/// before. The ring's frames are part of the resident limit, so the region keeps the same
/// number of uncompressed pages, and the backend holds no copy of them (memory stays equal).
///
/// Ownership of a frame: its tag names the page it holds (``PageState/Kind/cached``, with the
/// stamp). Only the holder of that page's lock reads the frame or empties it (a fault taking the
/// page back, or the evictor pushing it out); only the evictor whose stamp maps to an empty
/// frame fills it. Each operation is one atomic store on the tag after the copy.
///
/// Memory: `capacity` pages in one anonymous mapping owned by the cache, populated on first
/// use (each populated frame stays charged to the region's limit from then on) and unmapped with
/// the cache. Every method is async-signal-safe (atomics and `memcpy`).
final class VictimCache: Sendable {
    /// A frame's tag, one word: bits 0-1 its state, bits 2-31 the stamp (``PageState/stamp``'s
    /// width, which fits), bits 32-63 the page.
    private enum Tag {
        /// Never written: the frame costs no memory yet.
        static var unpopulated: UInt64 { 0 }
        /// Populated, holding nothing.
        static var empty: UInt64 { 1 }
        /// Holding the page the tag names.
        static var valid: UInt64 { 2 }
        /// The state bits.
        static var stateMask: UInt64 { 3 }
        /// The stamp bits, after the shift.
        static var stampMask: UInt64 { PageState.stampModulus - 1 }

        /// The tag of page `page` with stamp `stamp`.
        @inline(__always)
        static func holding(page: Int, stamp: UInt64) -> UInt64 {
            UInt64(UInt32(truncatingIfNeeded: page)) << 32 | (stamp & stampMask) << 2 | valid
        }

        /// The page and stamp `tag` names, or nil when it holds no page.
        @inline(__always)
        static func occupant(_ tag: UInt64) -> (page: Int, stamp: UInt64)? {
            guard tag & stateMask == valid else { return nil }
            return (Int(tag >> 32), (tag >> 2) & stampMask)
        }
    }

    /// Frames in the ring: a power of two, or 0 (no cache).
    let capacity: Int
    /// The size of a frame.
    let pageSize: Int
    private let frames: AnonymousMapping
    private let tags: AtomicArray<UInt64>
    private let populated = Atomic<Int>(0)

    /// A ring of `capacity` frames (0, or a power of two) of `pageSize` bytes. Throws the
    /// `Errno` of a mapping that failed.
    init(capacity: Int, pageSize: Int) throws(Errno) {
        precondition(capacity >= 0 && capacity & (capacity &- 1) == 0, "a victim cache holds 0 or a power of two pages, not \(capacity)")
        self.capacity = capacity
        self.pageSize = pageSize
        // Reserved only: a frame costs memory from its first page on.
        frames = try AnonymousMapping(size: max(1, capacity) * pageSize)
        tags = AtomicArray(count: max(1, capacity), initialValue: Tag.unpopulated)
        // The pages are no child's business after fork().
        _ = madvise(frames.base, frames.size, MADV_DONTFORK)
    }

    /// Whether the ring holds pages at all.
    var isEnabled: Bool { capacity > 0 }

    /// Frames that hold memory (each charged to the region's limit).
    var populatedFrames: Int { populated.load(ordering: .relaxed) }

    /// The frame of eviction stamp `stamp` (always frame 0 of the one-frame mapping when the
    /// cache is disabled, so that no index can leave the mapping).
    @inline(__always)
    private func frame(_ stamp: UInt64) -> Int { Int(truncatingIfNeeded: stamp) & (max(capacity, 1) - 1) }

    /// The memory of the frame of eviction stamp `stamp` (read by the holder of its page's lock).
    @inline(__always)
    func address(ofStamp stamp: UInt64) -> UnsafeRawPointer {
        UnsafeRawPointer(frames.base + frame(stamp) * pageSize)
    }

    /// The page the frame of stamp `stamp` holds, with the stamp it was evicted with, or nil
    /// when the frame is empty.
    @inline(__always)
    func occupant(ofStamp stamp: UInt64) -> (page: Int, stamp: UInt64)? {
        Tag.occupant(tags[frame(stamp)].load(ordering: .acquiring))
    }

    /// Copies page `page` (`source`, one page; the caller holds the page's lock) into the frame
    /// of its eviction stamp `stamp`, which must be empty (its occupant pushed out). Returns
    /// nil when the frame holds a page, else whether this copy populated it (the caller then
    /// leaves the page's charge to the frame).
    @inline(__always)
    func fill(page: Int, stamp: UInt64, from source: UnsafeRawPointer) -> Bool? {
        let index = frame(stamp)
        let current = tags[index].load(ordering: .acquiring)
        // Claimed before the copy: nobody reads a frame before its page is published cached.
        guard current & Tag.stateMask != Tag.valid,
              tags[index].compareExchange(expected: current, desired: Tag.holding(page: page, stamp: stamp), ordering: .acquiringAndReleasing).exchanged
        else { return nil }
        (frames.base + index * pageSize).copyMemory(from: source, byteCount: pageSize)
        guard current == Tag.unpopulated else { return false }
        populated.add(1, ordering: .relaxed)
        return true
    }

    /// Empties the frame of stamp `stamp`, which holds page `page` (the caller holds its lock
    /// and has taken or pushed out the copy, or undoes the fill).
    @inline(__always)
    func empty(page: Int, stamp: UInt64) {
        let index = frame(stamp)
        assert(tags[index].load(ordering: .relaxed) == Tag.holding(page: page, stamp: stamp), "frame \(index) does not hold page \(page)")
        tags[index].store(Tag.empty, ordering: .releasing)
    }

    /// Debug-only, on a quiescent region: the populated count matches the tags; returns the
    /// pages the frames hold (each must be cached with its frame's stamp).
    func checkInvariants() -> [(page: Int, stamp: UInt64)] {
        var held: [(page: Int, stamp: UInt64)] = []
        #if DEBUG
        tags.checkInvariants()
        var count = 0
        for i in 0..<capacity {
            let tag = tags[i].load(ordering: .relaxed)
            if tag != Tag.unpopulated { count += 1 }
            if let occupant = Tag.occupant(tag) {
                precondition(frame(occupant.stamp) == i, "victim cache frame \(i) holds stamp \(occupant.stamp) of another frame")
                held.append(occupant)
            }
        }
        precondition(count == populatedFrames, "\(count) victim cache frames populated, \(populatedFrames) counted")
        #endif
        return held
    }
}
