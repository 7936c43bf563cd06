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
/// It also holds the staging area eviction moves pages into (`UFFDIO_MOVE`, which needs an
/// empty destination in a range registered with the same userfaultfd): a page moved out of the
/// region is compressed from its staging slot, stays charged there, and staging slots are
/// emptied together with one `MADV_DONTNEED` per contiguous run (``flushStaging()``), which is
/// several times cheaper per page than one call per page.
///
/// Memory: `frameCount` page-aligned frames in one anonymous mapping, and `stagingCount` pages
/// in another, both made at init and unmapped in deinit, owned by this object. Invariants: a
/// frame is used by at most one holder, between ``acquire()`` and ``release(_:)``; a staging
/// slot is free (empty page table entry), held by one evictor, or done (holding a compressed
/// page's old copy, charged, waiting for a flush).
final class SwapCache: @unchecked Sendable {
    // @unchecked Sendable: frames are handed out exclusively through the atomic bitmap.
    let frameCount: Int
    let pageSize: Int
    private let base: UnsafeMutableRawPointer
    private let busy = Atomic<UInt64>(0)

    /// Staging slots.
    let stagingCount: Int
    /// The staging area's first byte (registered with the region's userfaultfd by the region).
    let stagingBase: UnsafeMutableRawPointer
    /// Per staging slot: 0 free, 1 held by an evictor, 2 done (waiting for a flush).
    private let staging: UnsafeMutablePointer<Atomic<UInt8>>
    private let stagingDone = Atomic<Int>(0)
    private let flushing = Atomic<Bool>(false)
    /// Done staging slots that trigger a flush.
    let stagingBatch: Int

    /// Creates `frameCount` (1...64) frames of `pageSize` bytes and `stagingCount` (0...256)
    /// staging slots flushed `stagingBatch` at a time.
    init?(frameCount: Int, pageSize: Int, stagingCount: Int = 0, stagingBatch: Int = 16) {
        precondition(frameCount >= 1 && frameCount <= 64, "1...64 frames")
        precondition(stagingCount >= 0 && stagingCount <= 256, "0...256 staging slots")
        let bytes = frameCount * pageSize
        guard let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              p != MAP_FAILED else { return nil }
        let stagingBytes = max(1, stagingCount) * pageSize
        guard let q = mmap(nil, stagingBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              q != MAP_FAILED else {
            munmap(p, bytes)
            return nil
        }
        _ = madvise(q, stagingBytes, MADV_NOHUGEPAGE)
        _ = madvise(q, stagingBytes, MADV_DONTFORK)
        base = p
        stagingBase = q
        self.frameCount = frameCount
        self.pageSize = pageSize
        self.stagingCount = stagingCount
        self.stagingBatch = max(1, min(stagingBatch, stagingCount))
        staging = .allocate(capacity: max(1, stagingCount))
        for i in 0..<max(1, stagingCount) { (staging + i).initialize(to: Atomic<UInt8>(0)) }
        // Touch every frame now so that a fault never takes a kernel page fault on one.
        memset(p, 0, bytes)
        _ = madvise(p, bytes, MADV_DONTFORK)
    }

    deinit {
        munmap(base, frameCount * pageSize)
        munmap(stagingBase, max(1, stagingCount) * pageSize)
        staging.deinitialize(count: max(1, stagingCount))
        staging.deallocate()
    }

    // MARK: Staging

    /// The address of a staging slot.
    @inline(__always)
    func stagingAddress(_ index: Int) -> UInt {
        UInt(bitPattern: stagingBase) + UInt(index * pageSize)
    }

    /// Staging slots holding a page that waits for a flush (each is charged).
    var stagedPages: Int { stagingDone.load(ordering: .relaxed) }

    /// Takes a free staging slot, or nil when all are held or done (flush first).
    @inline(__always)
    func acquireStaging(hint: Int) -> Int? {
        guard stagingCount > 0 else { return nil }
        var i = hint % stagingCount
        for _ in 0..<stagingCount {
            if staging[i].load(ordering: .relaxed) == 0,
               staging[i].compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged {
                return i
            }
            i += 1
            if i == stagingCount { i = 0 }
        }
        return nil
    }

    /// Gives back a staging slot that is empty again (the move failed or was undone).
    @inline(__always)
    func releaseStaging(_ index: Int) {
        staging[index].store(0, ordering: .releasing)
    }

    /// Marks a held staging slot done: its page was compressed and waits for a flush.
    /// Returns the number of done slots.
    @inline(__always)
    func markStagingDone(_ index: Int) -> Int {
        staging[index].store(2, ordering: .releasing)
        return stagingDone.add(1, ordering: .relaxed).newValue
    }

    /// Empties every done staging slot, one `MADV_DONTNEED` per contiguous run, and returns how
    /// many pages it freed (the caller uncharges them). Returns 0 without waiting when another
    /// thread is flushing.
    func flushStaging() -> Int {
        guard stagingCount > 0, !flushing.exchange(true, ordering: .acquiring) else { return 0 }
        var freed = 0
        var runStart = -1
        var i = 0
        while i <= stagingCount {
            let done = i < stagingCount && staging[i].load(ordering: .acquiring) == 2
            if done {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                _ = madvise(stagingBase + runStart * pageSize, (i - runStart) * pageSize, MADV_DONTNEED)
                for j in runStart..<i { staging[j].store(0, ordering: .releasing) }
                freed += i - runStart
                runStart = -1
            }
            i += 1
        }
        stagingDone.subtract(freed, ordering: .relaxed)
        flushing.store(false, ordering: .releasing)
        return freed
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
        for i in 0..<stagingCount {
            precondition(staging[i].load(ordering: .relaxed) != 1, "staging slot \(i) still held")
        }
        #endif
    }
}
