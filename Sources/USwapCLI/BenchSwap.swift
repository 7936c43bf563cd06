import ArgumentParser
import Benchmarks
import Swap
import ZSwap

/// `uswap bench swap`: swapbench.c's workload (the C harness for the kernel's swap) on a
/// SwapRegion backed by a ZramDevice, and with `--vs-kernel` the same workload under the
/// kernel's zram0 swap in a memory cgroup, side by side.
struct BenchSwap: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swap",
        abstract: "Swap a region several times larger than its resident limit, beside the kernel's zram swap.",
        discussion: """
            Fills --size MiB with the corpus pages (cycled), then makes --touches random one-byte \
            reads or increments (--write-pct % writes), uniform or Zipf(--zipf) over a fixed \
            permutation, with swapbench.c's generator, so that fault counts compare one to one \
            with the kernel's. Only the touch phase is timed. Every page is verified afterwards \
            against a model of the writes; a mismatch makes the command exit non-zero.
            --vs-kernel (root, an unused zram0, the cgroup v1 memory controller) runs the same \
            work on plain memory in a memory cgroup limited to --resident, with zram0 (lz4, \
            page-cluster 0) as the only swap, and restores everything afterwards.
            """)

    @Option(help: "A file of 4 KiB memory pages (e.g. heap-mix-64m.bin).")
    var corpus: String

    @Option(help: "Region size in MiB.")
    var size: Int

    @Option(help: "Resident limit in MiB (the kernel's cgroup limit).")
    var resident: Int

    @Option(help: "Number of touches in total.")
    var touches: Int

    @Option(name: .customLong("write-pct"), help: "Percentage of touches that increment a byte.")
    var writePercent: Int = 0

    @Option(help: "Zipf exponent over a fixed permutation of the pages (0: uniform).")
    var zipf: Double = 0

    @Option(help: "Slot policy: free-on-swapin, lazy or adaptive (default: the library's).")
    var policy: String?

    @Option(help: "Application threads, each with its own stream (seed + thread index).")
    var threads: Int = 1

    @Flag(help: "Print exactly one JSON object on stdout.")
    var json = false

    @Flag(name: .customLong("vs-kernel"), help: "Also run the workload under the kernel's zram0 swap.")
    var vsKernel = false

    @Option(name: .customLong("mem-limit"), help: "mem_limit of the ZramDevice in MiB (default: none).")
    var memLimit: Int?

    @Option(help: "Where eviction runs: in-fault or background (default: the library's: background where the process may use two or more CPUs, else in-fault).")
    var reclaim: String?

    @Option(help: "How a dirty page is taken out before it is compressed: move or write-protect (default: the library's).")
    var eviction: String?

    @Option(help: "Where cold pages go: zram (an in-process ZramDevice) or zswap:FILE (a compressed cache in front of a swap file FILE: a new file, mode 0600, removed afterwards; or a directory, to hold an unnamed file that nothing outlives).")
    var backend: String = "zram"

    @Option(help: "With --backend zram: give the ZramDevice a backing file FILE (a new file, mode 0600, removed afterwards; or a directory, to hold an unnamed file) and write idle slots back to it automatically once the pool reaches --pool-percent/--pool-limit (default 1% of RAM).")
    var writeback: String?

    @Flag(help: "Replace a regular file that holds data at the --backend zswap:FILE or --writeback FILE path (never a link, a directory or a device).")
    var force = false

    @Option(name: .customLong("pool-percent"), help: "Pool limit as a percentage of RAM, like zswap's max_pool_percent (zswap default 20).")
    var poolPercent: Int?

    @Option(name: .customLong("pool-limit"), help: "Pool limit in MiB (instead of --pool-percent).")
    var poolLimit: Int?

    @Option(name: .customLong("victim-cache"), help: "Pages of the victim cache (the latest evicted pages kept uncompressed: a refault needs no decompression and marks the page in use): off, auto (a quarter of --resident, rounded down to a power of two) or a power of two of at most half of --resident in 4 KiB pages (default: off).")
    var victimCache: String?

    @Option(name: .customLong("file-reads"), help: "How swap-ins from a file tier are read: inline (on the faulting thread) or io-threads:N (default: the library's).")
    var fileReads: String?

    @OptionGroup var tierOptions: TierOptions

    @Option(name: .customLong("kernel-child-cgroup"), help: .hidden)
    var kernelChildCgroup: String?

    func validate() throws {
        guard size > 0 else { throw ValidationError("--size must be a positive number of MiB") }
        guard resident > 0, resident <= size else { throw ValidationError("--resident must be 1...--size MiB") }
        guard touches > 0 else { throw ValidationError("--touches must be positive") }
        guard (0...100).contains(writePercent) else { throw ValidationError("--write-pct must be 0...100") }
        guard zipf >= 0, zipf.isFinite else { throw ValidationError("--zipf must be a number >= 0") }
        if let reclaim, SwapRegionConfiguration.ReclaimMode(rawValue: reclaim) == nil {
            throw ValidationError("--reclaim must be one of \(SwapRegionConfiguration.ReclaimMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let eviction, SwapRegionConfiguration.EvictionMethod(rawValue: eviction) == nil {
            throw ValidationError("--eviction must be one of \(SwapRegionConfiguration.EvictionMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be 1...256") }
        if let memLimit, memLimit <= 0 { throw ValidationError("--mem-limit must be a positive number of MiB") }
        guard let kind = BenchBackendKind(argument: backend) else {
            throw ValidationError("--backend must be zram, zswap (with --tier) or zswap:FILE")
        }
        let hasTier = tierOptions.tier != nil
        if kind == .zswap(file: nil), !hasTier, kernelChildCgroup == nil {
            throw ValidationError("--backend zswap needs its second tier: --tier FILE or --tier redis://HOST:PORT (or say --backend zswap:FILE)")
        }
        if case .zswap(_?) = kind, hasTier { throw ValidationError("give the file once: --backend zswap:FILE, or --backend zswap --tier FILE") }
        if hasTier, writeback != nil { throw ValidationError("give the zram writeback target once: --writeback FILE or --tier FILE|redis://...") }
        if let poolPercent, !(1...100).contains(poolPercent) { throw ValidationError("--pool-percent must be 1...100") }
        if let poolLimit, poolLimit <= 0 { throw ValidationError("--pool-limit must be a positive number of MiB") }
        if poolPercent != nil && poolLimit != nil { throw ValidationError("give --pool-percent or --pool-limit, not both") }
        if kind == .zram, writeback == nil, !hasTier, poolPercent != nil || poolLimit != nil {
            throw ValidationError("--pool-percent and --pool-limit apply to --backend zswap or to zram with --writeback FILE or --tier (zram's hard limit is --mem-limit)")
        }
        if kind != .zram, writeback != nil { throw ValidationError("--writeback applies to --backend zram (zswap writes back to its own FILE)") }
        if let writeback, writeback.isEmpty { throw ValidationError("--writeback needs a file path") }
        if kind != .zram, memLimit != nil { throw ValidationError("--mem-limit applies to --backend zram; zswap's pool limit is --pool-percent or --pool-limit") }
        if let fileReads, SwapRegionConfiguration.FileReads(fileReads) == nil {
            throw ValidationError("--file-reads must be inline or io-threads:N with N in 1...16")
        }
        if let victimCache, victimCache != "auto", victimCache != "off" {
            guard let pages = Int(victimCache), pages > 0,
                  SwapRegionConfiguration.isValidVictimCache(pages: pages, limitPages: (resident << 20) / 4096) else {
                throw ValidationError("--victim-cache must be auto, off, or a power of two of at most half of --resident in 4 KiB pages (\((resident << 20) / 4096 / 2))")
            }
        }
        if let policy, SwapBench.policyNames.contains(policy) == false {
            throw ValidationError("--policy must be one of \(SwapBench.policyNames.joined(separator: ", "))")
        }
    }

    /// `--victim-cache` as the library takes it: nil (its default), 0 (off) or pages.
    var victimCachePages: Int? {
        switch victimCache {
        case nil: nil
        case "off"?: 0
        case "auto"?: SwapRegionConfiguration.suggestedVictimCachePages(residentLimit: resident << 20)
        case let text?: Int(text)
        }
    }

    func run() throws {
        let bench = SwapBench(
            corpusPath: corpus, sizeMiB: size, residentMiB: resident, touches: touches,
            writePercent: writePercent, zipf: zipf, policy: policy, threads: threads, memLimitMiB: memLimit,
            reclaim: reclaim.flatMap(SwapRegionConfiguration.ReclaimMode.init(rawValue:)),
            eviction: eviction.flatMap(SwapRegionConfiguration.EvictionMethod.init(rawValue:)),
            backend: BenchBackendKind(argument: backend) ?? .zram,
            poolLimit: poolLimit.map { PoolLimit.bytes($0 << 20) } ?? poolPercent.map(PoolLimit.percentOfRAM),
            writebackFile: writeback, fileReads: fileReads.flatMap(SwapRegionConfiguration.FileReads.init),
            replaceExistingFile: force,
            tier: try tierOptions.spec, replicas: tierOptions.replicas, leaseTTLMilliseconds: tierOptions.leaseTTL,
            encryptTier: tierOptions.encrypt, victimCachePages: victimCachePages)
        if let kernelChildCgroup {
            let report = try bench.runKernelChild(cgroupPath: kernelChildCgroup, progress: true)
            print(report.jsonLine)
            throw ExitCode(report.verified ? 0 : 1)
        }
        let result: SwapBenchResult
        do { result = try bench.run(vsKernel: vsKernel, progress: true) } catch let error as SwapBenchError {
            throw ValidationError(error.description)
        }
        print(json ? try JSONOutput.render(result) : result.humanReport)
        if !result.clean { throw ExitCode(1) }
    }
}

