/// The swap layer's tuning values in one place, each with the reason for its value: the sizes
/// of the pager's preallocated tables, the limits a configuration is checked against, and the
/// waits and retries of the fault, reclaim and I/O paths.
///
/// Where a value was measured, the figures are given (release builds, 1 GiB region of corpus
/// pages, 256 MiB resident, zram LZ4, unless said otherwise); where it follows from a data
/// structure or a kernel interface, that is the reason given.
enum SwapTuning {
    // MARK: Swap cache and staging

    /// Page frames a fault decompresses into before `UFFDIO_COPY`: one per fault in progress.
    /// 64 is the width of the frames' atomic bitmap, and far more than the threads that fault
    /// at once (a fault holds a frame for one read); a fault that finds all in use waits.
    static let swapCacheFrames = 64

    /// Staging slots eviction by `UFFDIO_MOVE` moves pages into: a sixteenth of the resident
    /// limit (the staged pages are charged against it, so it must stay a small part), at
    /// least 4 (room to batch at all) and at most 64 (a batch of 16 already shares one
    /// `MADV_DONTNEED` among 16 pages; a larger area would only hold more memory). Eviction by
    /// move: ~2.6 us of CPU per evicted page against ~4.0 us by write protection.
    static func stagingSlots(limitPages: Int) -> Int {
        max(4, min(64, limitPages / 16))
    }

    /// Done staging slots that trigger a flush: a quarter of the area, so a flush frees a run of
    /// several pages with one `MADV_DONTNEED` while three quarters stay free for evictions.
    static func stagingBatch(stagingSlots: Int) -> Int {
        max(1, stagingSlots / 4)
    }

    /// The most staging slots ``SwapCache`` accepts (its flush scans them all).
    static let maximumStagingSlots = 256

    // MARK: Victim cache

    /// The suggested victim cache size: a quarter of the resident limit, rounded down to a
    /// power of two (at most ``maximumVictimCachePages``; 0 below 4 pages). Zipf 0.99 (1 GiB
    /// region, 256 MiB resident: 16,384 pages), before swapped-in pages were watched for writes:
    /// 174,981 swap-ins with it, against 176,031 with half and 177,824 with twice as many,
    /// 178,172 without.
    static func victimCachePages(limitPages: Int) -> Int {
        let quarter = min(limitPages / 4, maximumVictimCachePages)
        guard quarter > 0 else { return 0 }
        return 1 << (Int.bitWidth - 1 - quarter.leadingZeroBitCount)
    }

    /// The largest victim cache: half the eviction stamps' range, so that a frame's stamp
    /// names one eviction among those that could still refault from it.
    static var maximumVictimCachePages: Int { Int(PageState.stampModulus / 2) }

    // MARK: Batched eviction

    /// The most pages the CLOCK hand claims at a time when eviction is batched (fewer when the
    /// batch has less room): a batch's victims come from consecutive claims, so they lie close
    /// together and one write-protect ioctl spans them.
    static let victimWindow = 64

    /// The widest span of pages one batch covers (2 MiB, one page-table page): its
    /// write-protect ioctl walks every entry of the span, and protects the resident pages in it
    /// that are not victims too (each pays one fault if written before it is evicted).
    static let maximumEvictionSpan = 512

    // MARK: File reads

    /// Request slots of the file-read queue: half of ``swapCacheFrames``, since every read in
    /// flight holds a frame; the other half stays for faults served from memory meanwhile. A
    /// fault that finds every slot in flight reads inline.
    static let fileReadRequests = 32

    /// The largest file-read queue (its reserve and submission words are 64-bit bitmaps).
    static let maximumFileReadRequests = 64

    /// I/O threads a region accepts: 16 threads already outnumber the reads the request slots
    /// keep in flight on any disk this was measured on (one I/O thread overlapped an uncached
    /// file's ~300-500 us reads; a handler thread with 4 I/O threads was faster than inline).
    static let ioThreadRange = 1...16

    /// How long an idle I/O thread polls for a submission before it sleeps on the futex: not at
    /// all. On 2 loaded cores a polling I/O thread took the CPU from the faulting thread
    /// (bench-file-reads, page-cached file: 20 us of polling made a touch 49.6 us of CPU
    /// against 36.7 us without).
    static let ioThreadIdleSpinNanoseconds: UInt64 = 0

    /// How long a faulting thread polls its file read before it sleeps on the futex: 5 us was as
    /// fast as no polling (34.3 against 36.7 us of CPU per touch); 20 us cost 72.9 us.
    static let fileReadWaitSpinNanoseconds: UInt64 = 5_000

    /// Retries a configuration may ask for after a failed read: 100 at 1 s each is already
    /// longer than any fault should stall.
    static let readRetryRange = 0...100

    /// The pause before a retry a configuration may ask for, in microseconds (up to 1 s).
    static let readRetryPauseRange = 0...1_000_000

    // MARK: Reclaim

    /// The gap between the resident limit and the background reclaimer's high watermark (and
    /// again to its low one): 1/32 of the limit, so a batch is large enough to be cheap per
    /// page and small enough to keep the region near its limit, within 2...256 pages.
    static func watermarkGap(limitPages: Int) -> Int {
        max(2, min(256, limitPages / 32))
    }

    /// The background reclaimer's watermarks: it starts when the charge reaches `high` (one gap
    /// below the limit, so faults rarely find the region full) and stops at `low` (another gap
    /// down: one batch of evictions per wake-up).
    static func watermarks(limitPages: Int) -> (high: Int, low: Int) {
        let gap = watermarkGap(limitPages: limitPages)
        return (limitPages - gap, max(1, limitPages - 2 * gap))
    }

    /// Passes of the CLOCK hand over the page table before one reclaim gives up: the first pass
    /// may only spend credits, the second then finds the pages whose credit it spent.
    static let sweepPasses = 2

    /// How long the background reclaimer sleeps when nobody wakes it: 20 ms, a wake-up cheap
    /// enough to be unnoticeable and short enough that a lost wake-up costs little.
    static let backgroundIdleNanoseconds = 20_000_000

    /// Fruitless sweeps after which the background reclaimer stops a round (every page locked
    /// or the backend full): the faults then evict themselves or fail.
    static let backgroundSweepMisses = 4

    /// How long a charge goes on looking for a victim while every resident page stays locked
    /// before it gives up and the fault fails (SIGBUS), in nanoseconds: 2 s. A time, not a
    /// count of sweeps: with a resident limit no larger than one eviction batch, another
    /// thread's batch can hold every resident page's lock, and on a loaded machine its thread
    /// can be preempted for milliseconds; 20,000 sweeps with yields passed within that time and
    /// failed faults that only had to wait (the soak's CI run, 2026-12-02). Only a lock holder
    /// stuck for good, or a system call that fails every time, reaches 2 s. (A full backend
    /// never fails a charge: the page stays resident beyond the limit.)
    static let chargeGiveUpNanoseconds = 2_000_000_000

    /// Fruitless sweeps after which a waiting charge sleeps between sweeps
    /// (``chargePauseMicroseconds``) instead of yielding: a yield does not make a preempted
    /// lock holder run, a sleep gives it the processor.
    static let chargeSweepsBeforeSleep = 64

    /// The pause between a waiting charge's sweeps once it sleeps: short against a fault
    /// (tens of microseconds), long against a sweep.
    static let chargePauseMicroseconds = 50

    /// While the backend refuses pages and no slot was freed, one charge in this many tries an
    /// eviction again (the others go beyond the limit at once): a backend whose room comes back
    /// without a free (a writeback budget raised, a file grown) is noticed within 64 faults,
    /// and a full one costs one refused compression per 64 faults.
    static let refusedRetryInterval = 64

    /// Evictions a charge makes while the region is above its limit before it charges beyond
    /// it anyway: 2, so that once the backend takes pages again each fault brings the region
    /// one page closer to its limit without any one fault paying for the whole way back.
    static let overLimitEvictionsPerCharge = 2

    /// The most victims one eviction inside a fault takes (eviction by write protection; the
    /// background reclaimer takes full batches of ``EvictionBatch/capacity``, 64): the faulting
    /// thread compresses every victim of its batch, so a batch's size is what one fault pays
    /// (p99 fault latency rose from about 60 to 240-280 us when batches of 32 came in).
    /// Each batch costs two TLB flushes (its write protection and its drop), and with several
    /// threads each flush is an inter-processor interrupt to every other CPU running one: 16
    /// halve the flushes of 8 (TLB shootdowns per run of the workload below with 2 threads:
    /// ~32,000 against ~56,000-62,000). With 2 and 4 threads (uniform, 1 GiB region, 256 MiB
    /// resident, 300,000 touches, 30% writes, `--vs-kernel`, two rounds on a loaded machine)
    /// CPU per touch against the kernel's 0.84 and 0.82x (2 threads), 0.86 and 0.84x (4)
    /// against 0.90 and 0.82x, 0.97 and 0.91x with 8; p99 fault latency 238-279 us against
    /// 139-188 us. Zipf 0.99 swap-ins unchanged (187,020 against 187,084).
    static let inFaultEvictionBatch = 16

    /// Fruitless sweeps a charge makes before it yields the processor between sweeps, so that
    /// a preempted lock holder can finish.
    static let chargeSweepsBeforeYield = 8

    /// CLOCK credit a page earns by its first touch.
    static let faultCredit: UInt64 = 1

    /// CLOCK credit a resident page has at least once a write to it was seen (it was mapped
    /// write-protected: after a swap-in, or in a batched eviction's span): the page is in use,
    /// as a short refault says. Zipf 0.99, simulated: 175,406 swap-ins with 1 credit, 173,647
    /// with 2, 173,502 with 3.
    static let writeCredit: UInt64 = 3

    /// CLOCK credit a page earns when it refaults within one resident set's worth of evictions
    /// of its own (the kernel's refault distance: with a little more room it would have
    /// stayed). Victim selection by CLOCK: 183,901 swap-ins against FIFO's 186,273 on Zipf 0.99
    /// (1M touches; the kernel: ~174,700 major faults).
    static let refaultCredit: UInt64 = 3

    /// CLOCK credit of a page swapped in after more evictions than the resident set holds: no
    /// sign that it is hot (with more room it would have been evicted all the same), so it is
    /// on probation and the hand takes it on its first pass, as the kernel puts such a page on
    /// its inactive list and only a refault within the workingset distance on the active one.
    /// Zipf 0.99 (1 GiB region, 256 MiB resident, 1M touches, 30% writes): 187,020 swap-ins
    /// with one credit (the kernel in that scoreboard run: 177,118), 182,112 with none (the
    /// kernel in its run: 175,039); uniform touches swap in as much as before (no page is
    /// hotter than another).
    static let distantRefaultCredit: UInt64 = 0

    /// The adaptive policy frees on swap-in once the copies kept for resident pages reach this
    /// fraction of the resident limit (1/4): beyond it the memory they hold outweighs the
    /// compression they save.
    static func adaptiveKeptCopyLimit(limitPages: Int) -> Int {
        limitPages / 4
    }

    // MARK: Waits

    /// Rounds a thread spins on a locked page before it yields: the lock is held by pager code
    /// for one read and install (a few microseconds), so spinning a little wins.
    static let pageLockSpins = 64

    /// Rounds a fault spins for a swap cache frame before it yields.
    static let frameSpins = 16

    /// How long the fault handler thread's `poll` waits before it checks whether the region
    /// is closing: 50 ms bounds `close()`'s wait without costing a measurable wake-up rate.
    static let handlerPollMilliseconds: Int32 = 50
}
