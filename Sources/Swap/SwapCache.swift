import Synchronization
import SystemPackage
import SystemSupport

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
/// Memory: `frameCount` page frames in one `AnonymousMapping` (touched at init so a fault
/// never takes a kernel page fault on one) and `stagingCount` pages in another, both owned by
/// this object and unmapped with it. Invariants: a frame is used by at most one holder, between
/// ``acquire()`` and ``release(_:)``; a staging slot is free (empty page table entry), held by
/// one evictor, or done (holding a compressed page's old copy, charged, waiting for a flush).
final class SwapCache: Sendable {
    /// What a staging slot holds.
    private enum Staging {
        /// Empty: its page table entry is empty, a move may land there.
        static var free: UInt32 { 0 }
        /// Held by one evictor, between its move and its compression.
        static var held: UInt32 { 1 }
        /// Its page was compressed: the old copy waits for the next flush (charged).
        static var done: UInt32 { 2 }
    }

    /// The number of frames.
    let frameCount: Int
    /// The size of a frame and of a staging slot.
    let pageSize: Int
    private let frames: AnonymousMapping
    private let busy: AtomicBitmap

    /// Staging slots.
    let stagingCount: Int
    /// The staging area (registered with the region's userfaultfd by the region).
    private let stagingArea: AnonymousMapping
    private let staging: AtomicArray<UInt32>
    private let stagingDone = Atomic<Int>(0)
    private let flushing = Atomic<Bool>(false)
    /// Done staging slots that trigger a flush.
    let stagingBatch: Int
    /// One page that is never written, so it reads as zeros (the kernel's shared zero page):
    /// the source of the fresh page a write to a never-touched address gets.
    private let zeroMapping: AnonymousMapping

    /// Creates `frameCount` (1...64) frames of `pageSize` bytes and `stagingCount`
    /// (0...``SwapTuning/maximumStagingSlots``) staging slots flushed `stagingBatch` at a time.
    /// Throws the `Errno` of a mapping that failed (nothing stays mapped).
    init(frameCount: Int, pageSize: Int, stagingCount: Int = 0, stagingBatch: Int = 16) throws(Errno) {
        precondition(stagingCount >= 0 && stagingCount <= SwapTuning.maximumStagingSlots, "0...256 staging slots")
        busy = AtomicBitmap(capacity: frameCount)
        frames = try AnonymousMapping(size: frameCount * pageSize, reserveOnly: false)
        stagingArea = try AnonymousMapping(size: max(1, stagingCount) * pageSize)
        zeroMapping = try AnonymousMapping(size: pageSize)
        self.frameCount = frameCount
        self.pageSize = pageSize
        self.stagingCount = stagingCount
        self.stagingBatch = max(1, min(stagingBatch, stagingCount))
        staging = AtomicArray(count: max(1, stagingCount), initialValue: Staging.free)
        // Touch every frame now so that a fault never takes a kernel page fault on one.
        frames.base.initializeMemory(as: UInt8.self, repeating: 0, count: frames.size)
        // Neither the frames nor the staged pages are a child's business after fork().
        _ = madvise(frames.base, frames.size, MADV_DONTFORK)
        _ = madvise(stagingArea.base, stagingArea.size, MADV_DONTFORK)
    }

    /// The staging area's first byte.
    var stagingBase: UnsafeMutableRawPointer { stagingArea.base }

    /// A page of zeros, read only by `UFFDIO_COPY`.
    var zeroPage: UnsafeRawPointer { UnsafeRawPointer(zeroMapping.base) }

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
        return staging.claim(from: hint, expected: Staging.free, desired: Staging.held)
    }

    /// Gives back a staging slot that is empty again (the move failed or was undone).
    @inline(__always)
    func releaseStaging(_ index: Int) {
        staging[index].store(Staging.free, ordering: .releasing)
    }

    /// Marks a held staging slot done: its page was compressed and waits for a flush.
    /// Returns the number of done slots.
    @inline(__always)
    func markStagingDone(_ index: Int) -> Int {
        staging[index].store(Staging.done, ordering: .releasing)
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
            let done = i < stagingCount && staging[i].load(ordering: .acquiring) == Staging.done
            if done {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                stagingArea.discard(offset: runStart * pageSize, length: (i - runStart) * pageSize)
                for j in runStart..<i { staging[j].store(Staging.free, ordering: .releasing) }
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
    var framesInUse: Int { busy.setCount }

    /// Takes a free frame, waiting (spinning, then yielding) while all are in use.
    @inline(__always)
    func acquire() -> Int {
        var wait = SpinWait(yieldAfter: SwapTuning.frameSpins)
        while true {
            if let index = busy.setLowestClear() { return index }
            wait.spin()
        }
    }

    /// The memory of a frame.
    @inline(__always)
    func frame(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: frames.base + index * pageSize, count: pageSize)
    }

    /// Returns a frame.
    @inline(__always)
    func release(_ index: Int) {
        busy.clear(index)
    }

    /// Debug-only: no frame is in use (call when the region is quiescent).
    func checkInvariants() {
        #if DEBUG
        busy.checkInvariants()
        staging.checkInvariants()
        precondition(framesInUse == 0, "\(framesInUse) swap cache frames still in use")
        for i in 0..<stagingCount {
            precondition(staging[i].load(ordering: .relaxed) != Staging.held, "staging slot \(i) still held")
        }
        #endif
    }
}
