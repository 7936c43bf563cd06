#if os(Linux)
import Glibc
#endif
import Synchronization

/// The pager's own uncompressed page copies: a fixed pool of page frames that a fault
/// decompresses into before `UFFDIO_COPY` installs the page (the swap cache's page, in the
/// kernel's terms), taken and returned with an atomic bitmap so that a signal handler can use
/// it (no allocation, no lock).
///
/// Every frame in use is charged to the region's resident limit by the fault that holds it
/// (the charge is taken before the frame, and the installed page inherits it).
///
/// Memory: `frameCount` page-aligned frames in one anonymous mapping made at init and unmapped
/// in deinit, owned by this object. Invariant: a frame is used by at most one holder, between
/// ``acquire()`` and ``release(_:)``.
final class SwapCache: @unchecked Sendable {
    // @unchecked Sendable: frames are handed out exclusively through the atomic bitmap.
    let frameCount: Int
    let pageSize: Int
    private let base: UnsafeMutableRawPointer
    private let busy = Atomic<UInt64>(0)

    /// Creates `frameCount` (1...64) frames of `pageSize` bytes.
    init?(frameCount: Int, pageSize: Int) {
        precondition(frameCount >= 1 && frameCount <= 64, "1...64 frames")
        let bytes = frameCount * pageSize
        guard let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              p != MAP_FAILED else { return nil }
        base = p
        self.frameCount = frameCount
        self.pageSize = pageSize
        // Touch every frame now so that a fault never takes a kernel page fault on one.
        memset(p, 0, bytes)
    }

    deinit {
        munmap(base, frameCount * pageSize)
    }

    /// The frames in use.
    var framesInUse: Int { busy.load(ordering: .relaxed).nonzeroBitCount }

    /// Takes a free frame, waiting (yielding) while all are in use.
    @inline(__always)
    func acquire() -> Int {
        let all: UInt64 = frameCount == 64 ? .max : (1 << UInt64(frameCount)) - 1
        var spins = 0
        while true {
            let current = busy.load(ordering: .relaxed)
            let free = ~current & all
            if free != 0 {
                let index = free.trailingZeroBitCount
                if busy.compareExchange(expected: current, desired: current | (1 << UInt64(index)), ordering: .acquiring).exchanged {
                    return index
                }
            } else {
                spins += 1
                if spins > 16 { sched_yield() }
            }
        }
    }

    /// The memory of a frame.
    @inline(__always)
    func frame(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base + index * pageSize, count: pageSize)
    }

    /// Returns a frame.
    @inline(__always)
    func release(_ index: Int) {
        busy.bitwiseAnd(~(1 << UInt64(index)), ordering: .releasing)
    }

    /// Debug-only: no frame is in use (call when the region is quiescent).
    func checkInvariants() {
        #if DEBUG
        precondition(framesInUse == 0, "\(framesInUse) swap cache frames still in use")
        #endif
    }
}
