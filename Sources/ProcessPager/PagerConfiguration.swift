import PageCodecs
import SecondTier
import Swap
import SystemSupport
import ZSwap

/// Where a pager keeps the pages it takes out of programs.
public enum PagerBackend: Sendable, Equatable, CustomStringConvertible {
    /// In-process zram devices (`ZRAM.ZramDevice`), one per 65,536 slots, made as needed.
    case zram
    /// zswap-style caches (`ZSwap.FrontswapCache`) in front of files at this path (the first
    /// chunk uses the path itself, later ones `PATH.1`, `PATH.2`, ...). Each file is created and
    /// unlinked at once: it lives as long as the pager holds it open, and nothing is left behind
    /// however uswap ends.
    case zswap(path: String)
    /// zswap-style caches that write back to the configuration's second tier
    /// (``PagerConfiguration/tier``: `--backend zswap --tier FILE|redis://...`).
    case zswapToTier

    /// Parses `zram`, `zswap` (its tier given by `--tier`) or `zswap:FILE`; nil for anything else.
    public init?(argument: String) {
        if argument == "zram" {
            self = .zram
        } else if argument == "zswap" {
            self = .zswapToTier
        } else if argument.hasPrefix("zswap:"), argument.count > "zswap:".count {
            self = .zswap(path: String(argument.dropFirst("zswap:".count)))
        } else {
            return nil
        }
    }

    /// `zram`, `zswap:FILE` or `zswap`.
    public var description: String {
        switch self {
        case .zram: "zram"
        case .zswap(let path): "zswap:\(path)"
        case .zswapToTier: "zswap"
        }
    }
}

/// How `uswap run` pages a program: its resident limit, where evicted pages go, and the knobs
/// of the reader and the evictor.
public struct PagerConfiguration: Sendable {
    /// The cap on the program tree's resident memory in bytes (managed pages, pages the pager
    /// holds uncompressed, and, with ``chargesUnmanagedMemory``, the anonymous memory it does not
    /// manage), like a memory cgroup's limit.
    public var residentLimitBytes: Int
    /// Where evicted pages go.
    public var backend: PagerBackend = .zram
    /// With ``PagerBackend/zram``: a file that idle compressed pages are written back to once
    /// the pools reach ``writebackPoolLimit`` (zram's backing_dev with automatic writeback).
    public var writebackPath: String? = nil
    /// The pool size above which zram writes back to ``writebackPath`` or ``tier``; zswap's
    /// pool limit.
    public var writebackPoolLimit: PoolLimit = .percentOfRAM(20)
    /// The second tier (`--tier FILE|redis://...`) that ``PagerBackend/zswapToTier`` caches
    /// and ``PagerBackend/zram`` devices write back to, opened per chunk of 65,536 slots with
    /// `OpenedTier.open`: a file at the path (chunk N > 0 at `PATH.N`; made and unlinked at once,
    /// so nothing outlives uswap), or the cluster (one namespace and lease per chunk, its keys
    /// deleted when the pager stops).
    public var tier: TierSpec? = nil
    /// Replicas a cluster tier waits for (WAIT) before a page leaves the pool.
    public var tierReplicas = 1
    /// A cluster tier's lease TTL in milliseconds (refreshed every third of it).
    public var tierLeaseTTLMilliseconds = 30_000
    /// Whether what reaches the second tier is encrypted (AES-256-GCM).
    public var encryptTier = false
    /// Whether a regular file that holds data at a tier file's path is replaced (`--force`);
    /// otherwise it is refused and left alone.
    public var replaceExistingTierFile = false
    /// The compressor.
    public var codec: PageCodecFactory = .lz4
    /// When the compressed copy of a swapped-in page is freed (Swap's policies; `SlotPolicy.adaptive`
    /// is treated as `SlotPolicy.freeOnSwapIn`).
    public var policy: SlotPolicy = .freeOnSwapIn
    /// Count the tree's anonymous memory that the pager does not manage (stacks, memory mapped
    /// before the agent started) against the limit, sampled every ``sampleIntervalMilliseconds``,
    /// so the limit means what a memory cgroup's limit means.
    public var chargesUnmanagedMemory = true
    /// The smallest share of the limit (in percent) left for managed pages when unmanaged memory
    /// is charged: a program whose unmanaged memory exceeds its limit still runs, slowly.
    public var minimumManagedPercent = 25
    /// How long the fault reader keeps polling after its last message before it sleeps (a
    /// fault served by a spinning reader skips a thread wake-up). pydict 300000 100000 at 40M on
    /// a loaded 2-vCPU machine, two runs each: 0 µs 96.5/70.1 s, 60 µs 40.4/35.3 s and 32.4/36.1 s,
    /// 250 µs 21.4/32.1 s and 36.4/39.8 s, 1000 µs 27.9/51.2 s (CPU within ±2 s of each other
    /// from 60 µs up; 0 µs cost 10 s more). Each poll that finds nothing yields the CPU
    /// (`sched_yield`) to any runnable thread there: a multithreaded program's threads are not
    /// kept waiting by the spin. On a quiet machine, two interleaved runs each of `uswap run
    /// --resident 84M` on scripts/workloads/nodejob.js: spinning without yielding 8.2/10.0 s
    /// wall (CPU 13.3/16.1 s), not spinning 7.7/7.9 s (10.8/11.2), spinning and yielding
    /// 7.0/6.9 s (11.6/11.0); pydict 300000 100000 at 40M: 17.9/18.8 s, 20.2/18.1 s and
    /// 18.2/17.3 s.
    public var spinMicroseconds = 200
    /// Laps of the clock a page is skipped when it comes back within one limit's worth of
    /// evictions after it went out (0...3): the hot pages a program keeps touching.
    public var refaultLaps = 1
    /// Whether a page that comes back sooner is skipped longer: one lap more within half a
    /// limit's worth of evictions, two within a quarter (at most 3 laps; ``refaultLaps`` 0 still
    /// turns refault heat off).
    public var gradesRefaultHeat = true
    /// Pages moved out of a program per eviction batch (at most the scratch half, 64).
    public var batchPages = 64
    /// How often the tree's memory is sampled, in milliseconds.
    public var sampleIntervalMilliseconds = 100
    /// At each sample, a chunk's pool whose memory exceeds the compressed bytes it holds by more
    /// than this percentage (and by 1 MiB) is compacted: swap-ins free objects all over the
    /// pool's spans. 0 never compacts.
    public var compactWastePercent = 5
    /// At each sample, the page cache more than 1 MiB behind the position of a descriptor of the
    /// tree's processes on a regular file is dropped (``StreamCache``), as a memory cgroup at
    /// its limit reclaims such used-once pages first. redisjob.py at 92 MiB: 48 MiB of its
    /// BGSAVE dump stayed cached, charged to the run, without it.
    public var trimsStreamCache = true
    /// The most swap space, in bytes of uncompressed pages (rounded up to chunks of 256 MiB).
    public var maximumSwapBytes: Int = 64 << 30
    /// The abstract socket name agents connect to (default: `uswap-run.<pid>`).
    public var socketName: String

    /// A configuration capping the tree at `residentLimitBytes`, defaults otherwise.
    public init(residentLimitBytes: Int, socketName: String = "uswap-run.\(getpid())") {
        self.residentLimitBytes = residentLimitBytes
        self.socketName = socketName
    }

    /// Why this configuration cannot run, or nil when it can.
    public var problem: String? {
        if residentLimitBytes < 64 * 4096 {
            return "a resident limit of \(residentLimitBytes) bytes is below 256 KiB (64 pages): give at least 256K"
        }
        if writebackPath != nil, backend != .zram {
            return "--writeback goes with the zram backend; the zswap backend has its own file"
        }
        if let tier {
            if case .zswap(let path) = backend {
                return "give the file once: --backend zswap:\(path), or --backend zswap --tier \(tier)"
            }
            if writebackPath != nil {
                return "give zram's writeback target once: --writeback FILE or --tier FILE|redis://..."
            }
        } else {
            if backend == .zswapToTier {
                return "--backend zswap needs its second tier: --tier FILE or --tier redis://HOST:PORT (or say --backend zswap:FILE)"
            }
            if encryptTier { return "--encrypt-tier needs a second tier (--tier)" }
        }
        if tierReplicas < 0 { return "--replicas must be 0 or more" }
        if tierLeaseTTLMilliseconds < 300 { return "--lease-ttl must be at least 300 ms" }
        if !(1...64).contains(batchPages) { return "batch of \(batchPages) pages: use 1 to 64" }
        if reserveDivisor < 1 { return "a reserve of 1/\(reserveDivisor) of the limit: the divisor must be 1 or more" }
        if !(1...100).contains(minimumManagedPercent) { return "minimum managed share \(minimumManagedPercent)%: use 1 to 100" }
        if maximumSwapBytes < SlotSpace.chunkSlots * 4096 { return "maximum swap of \(maximumSwapBytes) bytes is below one chunk (256 MiB)" }
        if socketName.isEmpty || socketName.utf8.count > 100 { return "socket name must have 1 to 100 bytes" }
        return nil
    }

    /// Laps of the clock a page is skipped when it refaults `distance` eviction epochs after it
    /// went out: 0 at `threshold` or beyond (it would have gone with a little more room all the
    /// same), else ``refaultLaps``, and with ``gradesRefaultHeat`` one more within half the
    /// threshold and one more within a quarter (at most ``PageState/maximumHeat``). How soon a
    /// page comes back estimates how often the program touches it, which the kernel's accessed
    /// bits tell it and faults alone do not. redisjob.py at 91M: 3.95M swap-ins graded, 4.19M flat; pydict 300000 100000
    /// at 40M 941k against 966k; nodejob.js at 84M 257k against 266k.
    @inline(__always)
    func refaultHeat(distance: UInt64, threshold: UInt64) -> Int {
        guard distance < threshold, refaultLaps > 0 else { return 0 }
        guard gradesRefaultHeat else { return min(PageState.maximumHeat, refaultLaps) }
        let sooner = (distance * 2 < threshold ? 1 : 0) + (distance * 4 < threshold ? 1 : 0)
        return min(PageState.maximumHeat, refaultLaps + sooner)
    }

    /// The limit in 4 KiB pages.
    var limitPages: Int { residentLimitBytes / 4096 }

    /// Pages kept free below the cap by evicting ahead of demand: 1/``reserveDivisor`` of the
    /// limit, at least two batches.
    var reservePages: Int { max(2 * batchPages, limitPages / reserveDivisor) }
    /// The reserve's share of the limit: 1 / this (at least 1; hidden `--reserve-divisor`). A
    /// fault that finds no room waits for an eviction batch (parks), and a program that
    /// allocates in bursts (V8's semi-space flips) drains a small reserve at once; a larger
    /// reserve is room the program does not get. Measured, no default moved: nodejob.js 600000
    /// 2 at 84M, four interleaved quiet rounds, 1/64 8.9/9.6/8.0/8.7 s against 1/16
    /// 8.4/8.4/8.1/8.2 s (parked 4.9-7.2k against 3.8-6.0k), then three rounds of 1/64 against
    /// 1/32 alike (9.4 against 9.3 s); pydict 300000 100000 at 40M 19.4/18.5 s against 18.6/18.4
    /// s with 1.7% more swap-ins at 1/16; redisjob.py at 91M 3.94-3.98M swap-ins at 1/64,
    /// 4.00M at 1/32, 4.06M at 1/16, wall times within the machine's swings (89-133 s).
    public var reserveDivisor = 64
}
