#if os(Linux)
import CUSwap
#endif

/// How a ``SwapRegion`` is laid out and run.
public struct SwapRegionConfiguration: Sendable {
    /// The region's size in bytes, a multiple of ``pageSize``.
    public var size: Int
    /// A hard cap in bytes on pages mapped in the region plus every uncompressed page copy the
    /// pager holds (fault scratch buffers included); at least ``minimumResidentPages`` pages.
    /// Only a backend that refuses pages (full) makes the region go beyond it, rather than fail
    /// a fault: see ``SwapStatistics/limitOverruns``.
    public var residentLimit: Int
    /// When compressed copies are freed.
    public var policy: SlotPolicy
    /// Pages of the victim cache (0, the default: none): the most recently evicted dirty pages
    /// stay uncompressed and unmapped in a ring of this many frames (a power of two of at most
    /// half the resident limit, charged against it), and a fault on one of them installs it
    /// without decompression and tells the reclaimer the page is in use. Only eviction by write
    /// protection fills it. ``suggestedVictimCachePages(residentLimit:pageSize:)`` gives a size.
    ///
    /// Zipf 0.99 (1 GiB region, 256 MiB resident, 1M touches, in-fault reclaim): 173,753
    /// swap-ins without, 171,978 with 16,384 pages (25,701 faults served from it), 5.67 against
    /// 5.61 us per touch; the kernel 174,619 major faults. (Before swapped-in pages were watched
    /// for writes: 178,172 without, 174,981 with 16,384 pages, 176,031 with 8,192, 177,824 with
    /// 32,768.) It costs CPU where pages are not reused: each eviction copies the page, and each
    /// hit is a fault on a page that would otherwise have stayed mapped; uniform touches (no
    /// page hotter than another), interleaved, CPU per touch 21.41 / 19.77 us without against
    /// 23.33 / 22.14 with. So it is off by default: turn it on where a swap-in costs much more
    /// than a fault and a page copy (a slow second tier) and pages are reused.
    public var victimCachePages: Int = 0
    /// The page size: the system's page size (4096 on x86-64), which must equal the backend's.
    public var pageSize: Int = 4096
    /// Who serves faults: the faulting thread itself (SIGBUS mode, the default) or a handler
    /// thread.
    public var faultMode: FaultMode = .default
    /// Where cold pages are evicted: inside the fault path or on a background thread.
    public var reclaimMode: ReclaimMode = .default
    /// How victims are chosen.
    public var victimSelection: VictimSelection = .default
    /// How a dirty page leaves the region before it is compressed.
    public var evictionMethod: EvictionMethod = .default
    /// Who reads a swapped page from a file tier (a backend whose
    /// `readNeedsIO(at:)` says so): the faulting path itself, or I/O threads.
    public var fileReads: FileReads = .default
    /// How many times a failed read (I/O error, short read, checksum mismatch) is tried again
    /// before the fault fails with SIGBUS (0...100). Nothing is freed by a failed read.
    public var readRetries: Int = 2
    /// The pause before each retry, in microseconds (0...1,000,000).
    public var readRetryPauseMicroseconds: Int = 200

    /// The smallest resident limit, in pages, a region accepts: room for the pages that
    /// concurrent faults install plus a working set.
    public static let minimumResidentPages = 16

    /// A victim cache size for a resident limit of `residentLimit` bytes: a quarter of the
    /// limit's pages rounded down to a power of two (0 below 4 pages).
    public static func suggestedVictimCachePages(residentLimit: Int, pageSize: Int = 4096) -> Int {
        SwapTuning.victimCachePages(limitPages: residentLimit / max(1, pageSize))
    }

    /// Whether a region whose resident limit is `limitPages` pages takes a victim cache of
    /// `pages` pages: 0 (none), or a power of two of at most half the limit.
    public static func isValidVictimCache(pages: Int, limitPages: Int) -> Bool {
        pages == 0 || (pages > 0 && pages & (pages - 1) == 0 && pages <= limitPages / 2 && pages <= SwapTuning.maximumVictimCachePages)
    }

    /// A configuration with the given size, resident limit and policy.
    public init(size: Int, residentLimit: Int, policy: SlotPolicy = .default) {
        self.size = size
        self.residentLimit = residentLimit
        self.policy = policy
    }

    /// Who runs the code that serves a missing-page or write-protect fault.
    public enum FaultMode: String, Sendable, CaseIterable {
        /// `UFFD_FEATURE_SIGBUS`: the faulting thread gets SIGBUS and serves its own fault in the
        /// signal handler (~6 us round trip here). The default.
        case signal
        /// A handler thread polls the userfaultfd and serves faults while the faulting thread
        /// sleeps in the kernel (10-70 us round trip: waking the thread dominates). A swap-in
        /// that fails is delivered with `UFFDIO_POISON` (Linux 6.6; required): the woken thread
        /// gets SIGBUS, the marker is cleared in that SIGBUS, and the next access reads the
        /// slot again.
        case handlerThread = "handler-thread"

        /// ``signal``: 19.4 us CPU per touch against 28.2 with a handler thread (uniform
        /// workload, 1 GiB region, 256 MiB resident).
        public static var `default`: FaultMode { .signal }
    }

    /// Where eviction runs.
    public enum ReclaimMode: String, Sendable, CaseIterable {
        /// The faulting thread evicts a victim before it installs a page (the kernel's direct
        /// reclaim).
        case inFault = "in-fault"
        /// A background thread keeps free room between watermarks, evicting in batches; a
        /// fault evicts itself only when the thread falls behind.
        case background

        /// ``background`` where this process may run on two or more CPUs, else ``inFault``.
        /// Uniform workload (1 GiB region, 256 MiB resident, 300,000 touches, 30% writes), two
        /// CPUs, one run each way, interleaved: 1 thread 10.7 / 9.8 us per touch against 16.8
        /// / 17.0 in the fault (CPU 18.1 / 16.5 against 16.8 / 17.0; fault latency p99 22 / 17
        /// us against 188 / 172); 2 threads 8.6 / 9.5 against 11.5 / 10.5 (CPU 16.8 / 18.6
        /// against 19.8 / 20.7); 4 threads 8.3 / 8.0 against 10.9 / 10.3 (CPU 16.4 / 15.9
        /// against 21.4 / 20.6). Held to one CPU (`taskset -c 0`) the thread only competes
        /// with the application: 15.7 / 15.8 against 14.5 / 15.1 us per touch.
        public static var `default`: ReclaimMode { usableProcessors >= 2 ? .background : .inFault }

        /// The CPUs this process may run on, read once.
        static let usableProcessors: Int = {
            #if os(Linux)
            Int(cuswap_usable_cpus())
            #else
            1
            #endif
        }()
    }

    /// How eviction takes a dirty page out of the application's reach before reading it, so
    /// that no write is lost.
    public enum EvictionMethod: String, Sendable, CaseIterable {
        /// `UFFDIO_MOVE` (Linux 6.8) into a staging area, emptied in batches: one ioctl per
        /// page plus a shared `MADV_DONTNEED`. Falls back to ``writeProtect`` where the kernel
        /// lacks it.
        case move
        /// In batches of up to 64 victims close together: one `UFFDIO_WRITEPROTECT` over their
        /// span, compress each in place, one `process_madvise(MADV_DONTNEED)` over all of them
        /// (two TLB flushes per batch).
        case writeProtect = "write-protect"

        /// ``writeProtect``: on the uniform workload (1 GiB, 256 MiB resident, 300,000
        /// touches, 30% writes; A/B interleaved against ``move``, machine load 15-20) CPU per
        /// touch 14.5 against 16.3 us with 2 threads and 13.1 against 14.2 us with one. (Before
        /// eviction was batched, ``move`` won: 19.4 against 20.4 us.)
        public static var `default`: EvictionMethod { .writeProtect }
    }

    /// Who reads a swapped page from a file tier.
    public enum FileReads: Sendable, Hashable, CustomStringConvertible {
        /// The faulting path reads the file itself (a signal handler on the faulting thread,
        /// or the handler thread, which then serves nothing else until the read returns).
        case inline
        /// `count` I/O threads (1...16) read the file. A faulting thread submits the read and
        /// charges the page (evicting one if needed) while it is in flight, then sleeps on a
        /// futex until it completes; a handler thread hands the whole completion (install and
        /// wake, or poison and wake) to the I/O thread and goes on serving other faults.
        case ioThreads(Int)

        /// `inline` or `io-threads:N`.
        public var description: String {
            switch self {
            case .inline: "inline"
            case .ioThreads(let n): "io-threads:\(n)"
            }
        }

        /// Parses ``description``'s forms (`io-threads` alone means 1 thread).
        public init?(_ text: String) {
            if text == "inline" { self = .inline; return }
            if text == "io-threads" { self = .ioThreads(1); return }
            guard text.hasPrefix("io-threads:"), let n = Int(text.dropFirst("io-threads:".count)) else { return nil }
            self = .ioThreads(n)
        }

        /// ``inline``: on a page-cached backing file it costs 30.3-31.0 us of CPU per touch
        /// against 43.3-60.2 with one I/O thread (SIGBUS mode; handler thread 37.0-37.6 against
        /// 42.5-63.5), wall time likewise: handing a 3 us read to another thread and back costs
        /// more than it overlaps. With an uncached file (`O_DIRECT` reads of ~300-500 us) one I/O
        /// thread cut SIGBUS-mode wall time per touch by ~27% (mean of 3 runs 374 against 515 us)
        /// for ~30% more CPU (137 against 104 us): choose ``ioThreads(_:)`` there when a second
        /// core is free (`USwapFaultHelper bench-file-reads`, 256 MiB region, 64 MiB resident,
        /// 8 MiB pool, on 2 loaded vCPUs).
        public static var `default`: FileReads { .inline }
    }

    /// How the reclaimer picks cold pages: userfaultfd reports no accessed bit, so the signals
    /// are the faults themselves.
    public enum VictimSelection: String, Sendable, CaseIterable {
        /// Round robin over the resident pages, no reference information (like FIFO).
        case fifo
        /// CLOCK with second chances earned by faults: a page that refaults soon after its
        /// eviction (refault distance below the resident size, the kernel's workingset test)
        /// earns extra passes, and so does a write seen by a write-protect fault (a page read
        /// back on probation is mapped write-protected until its first write, a lazy copy until
        /// its first write, and so are the pages in a batched eviction's span).
        case clock

        /// ``clock``: 173,753 swap-ins on Zipf 0.99 (1M touches, in-fault reclaim; the kernel
        /// in the same hour: 174,619 major faults); FIFO took 186,273 when CLOCK took 183,901.
        public static var `default`: VictimSelection { .clock }
    }
}
