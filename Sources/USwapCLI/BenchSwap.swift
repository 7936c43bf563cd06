import ArgumentParser
import KernelSwap
import PageStore
import Swap
import SystemSupport
import Workloads
import ZRAM
import ZSwap

/// `uswap bench swap`: ../shared/tools/swapbench.c's workload on a SwapRegion backed by a
/// ZramDevice, and with `--vs-kernel` the same workload under the kernel's zram0 swap in a
/// memory cgroup, side by side.
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

    @Option(help: "Where eviction runs: in-fault or background (default: the library's).")
    var reclaim: String?

    @Option(help: "Where cold pages go: zram (an in-process ZramDevice) or zswap:FILE (a compressed cache in front of a swap file FILE, created or truncated and removed afterwards).")
    var backend: String = "zram"

    @Option(help: "With --backend zram: give the ZramDevice a backing file FILE (created or truncated, removed afterwards) and write idle slots back to it automatically once the pool reaches --pool-percent/--pool-limit (default 1% of RAM).")
    var writeback: String?

    @Option(name: .customLong("pool-percent"), help: "Pool limit as a percentage of RAM, like zswap's max_pool_percent (zswap default 20).")
    var poolPercent: Int?

    @Option(name: .customLong("pool-limit"), help: "Pool limit in MiB (instead of --pool-percent).")
    var poolLimit: Int?

    @Option(name: .customLong("file-reads"), help: "How swap-ins from a file tier are read: inline (on the faulting thread) or io-threads:N (default: the library's).")
    var fileReads: String?

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
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be 1...256") }
        if let memLimit, memLimit <= 0 { throw ValidationError("--mem-limit must be a positive number of MiB") }
        guard let kind = BenchBackendKind(argument: backend) else {
            throw ValidationError("--backend must be zram or zswap:FILE")
        }
        if let poolPercent, !(1...100).contains(poolPercent) { throw ValidationError("--pool-percent must be 1...100") }
        if let poolLimit, poolLimit <= 0 { throw ValidationError("--pool-limit must be a positive number of MiB") }
        if poolPercent != nil && poolLimit != nil { throw ValidationError("give --pool-percent or --pool-limit, not both") }
        if kind == .zram, writeback == nil, poolPercent != nil || poolLimit != nil {
            throw ValidationError("--pool-percent and --pool-limit apply to --backend zswap:FILE or to zram with --writeback FILE (zram's hard limit is --mem-limit)")
        }
        if kind != .zram, writeback != nil { throw ValidationError("--writeback applies to --backend zram (zswap writes back to its own FILE)") }
        if let writeback, writeback.isEmpty { throw ValidationError("--writeback needs a file path") }
        if kind != .zram, memLimit != nil { throw ValidationError("--mem-limit applies to --backend zram; zswap's pool limit is --pool-percent or --pool-limit") }
        if let fileReads, SwapRegionConfiguration.FileReads(fileReads) == nil {
            throw ValidationError("--file-reads must be inline or io-threads:N with N in 1...16")
        }
        if let policy, SwapBench.policyNames.contains(policy) == false {
            throw ValidationError("--policy must be one of \(SwapBench.policyNames.joined(separator: ", "))")
        }
    }

    func run() throws {
        let bench = SwapBench(
            corpusPath: corpus, sizeMiB: size, residentMiB: resident, touches: touches,
            writePercent: writePercent, zipf: zipf, policy: policy, threads: threads, memLimitMiB: memLimit,
            reclaim: reclaim.flatMap(SwapRegionConfiguration.ReclaimMode.init(rawValue:)),
            backend: BenchBackendKind(argument: backend) ?? .zram,
            poolLimit: poolLimit.map { PoolLimit.bytes($0 << 20) } ?? poolPercent.map(PoolLimit.percentOfRAM),
            writebackFile: writeback, fileReads: fileReads.flatMap(SwapRegionConfiguration.FileReads.init))
        if let kernelChildCgroup {
            let report = try bench.runKernelChild(cgroupPath: kernelChildCgroup, progress: true)
            print(report.jsonLine)
            throw ExitCode(report.verified ? 0 : 1)
        }
        let result = try bench.run(vsKernel: vsKernel, progress: true)
        print(json ? try JSONOutput.render(result) : result.humanReport)
        if !result.clean { throw ExitCode(1) }
    }
}

/// The swap benchmark as a library call: what `uswap bench swap` runs, callable from tests.
struct SwapBench: Sendable {
    /// The policy names `--policy` accepts.
    static let policyNames = ["free-on-swapin", "lazy", "adaptive"]

    var corpusPath: String
    var sizeMiB: Int
    var residentMiB: Int
    var touches: Int
    var writePercent: Int
    var zipf: Double
    var policy: String?
    var threads: Int
    var memLimitMiB: Int?
    /// Where eviction runs; `nil` for the library's default.
    var reclaim: SwapRegionConfiguration.ReclaimMode? = nil
    /// What the region swaps to.
    var backend: BenchBackendKind = .zram
    /// The pool limit of a zswap backend (nil: zswap's default, 20% of RAM), or where a zram
    /// backend with a writeback file starts writing back (nil: 1% of RAM).
    var poolLimit: PoolLimit? = nil
    /// A writeback file for a zram backend.
    var writebackFile: String? = nil
    /// How file-tier swap-ins are read; nil for the library's default.
    var fileReads: SwapRegionConfiguration.FileReads? = nil

    /// The workload both sides run.
    func workload() throws(SwapWorkloadError) -> SwapWorkload {
        try SwapWorkload(sizeBytes: sizeMiB << 20, touches: touches, writePercent: writePercent, zipf: zipf, threads: threads)
    }

    /// The arguments that make a child `uswap` run the kernel side.
    func childArguments(cgroupPath: String) -> [String] {
        var arguments = [
            "bench", "swap", "--corpus", absolutePath(corpusPath), "--size", String(sizeMiB),
            "--resident", String(residentMiB), "--touches", String(touches), "--write-pct", String(writePercent),
            "--zipf", String(zipf), "--threads", String(threads), "--kernel-child-cgroup", cgroupPath,
        ]
        if let policy { arguments += ["--policy", policy] }
        // The child runs on plain memory; the backend tells it which kernel figures to report.
        arguments += ["--backend", backend.description]
        if case .zswap = backend {
            switch poolLimit {
            case .percentOfRAM(let p)?: arguments += ["--pool-percent", String(p)]
            case .bytes(let b)?: arguments += ["--pool-limit", String(b >> 20)]
            case nil: break
            }
        }
        return arguments
    }

    /// The kernel's swap for `--vs-kernel`: zram0, or zswap with our pool limit as its
    /// max_pool_percent (a limit in MiB becomes the smallest percent that holds it).
    var kernelBacking: KernelSwapBacking {
        guard case .zswap = backend else { return .zram }
        switch poolLimit ?? .percentOfRAM(20) {
        case .percentOfRAM(let p): return .zswap(maxPoolPercent: p)
        case .bytes(let b):
            return .zswap(maxPoolPercent: KernelSwapBacking.zswapPoolPercent(holding: b, memTotalBytes: MemInfo.totalBytes()))
        }
    }

    // MARK: Both sides

    /// Runs our side, then (with `vsKernel`) the kernel's.
    func run(vsKernel: Bool, progress: Bool, executable: String? = nil) throws -> SwapBenchResult {
        let workload = try workload()
        let ours = try runUserSpace(workload, progress: progress)
        var result = SwapBenchResult(bench: self, ours: ours, kernel: .notRequested)
        if vsKernel {
            result.kernel = runKernel(progress: progress, executable: executable)
        }
        return result
    }

    /// Our side: a SwapRegion over a ZramDevice.
    func runUserSpace(_ workload: SwapWorkload, progress: Bool) throws -> UserSpaceOutcome {
        if case .failure(let error) = SwapRegion.probe() { return .unavailable("userfaultfd: \(error)") }
        let corpus = try CorpusFile(path: corpusPath)
        let policy = self.policy.flatMap(SlotPolicy.init(rawValue:)) ?? .default
        let store = try makeBackend(sizeBytes: workload.sizeBytes)
        defer { store.close() }
        var regionConfiguration = SwapRegionConfiguration(size: workload.sizeBytes, residentLimit: residentMiB << 20, policy: policy)
        if let reclaim { regionConfiguration.reclaimMode = reclaim }
        if let fileReads { regionConfiguration.fileReads = fileReads }
        let region = try SwapRegion(regionConfiguration, backend: store.backend)
        defer { region.close() }
        if progress {
            StandardError.line("uswap run: SwapRegion \(sizeMiB) MiB, resident limit \(residentMiB) MiB, policy \(policy.rawValue), reclaim \(regionConfiguration.reclaimMode.rawValue), file reads \(regionConfiguration.fileReads), \(store.label)")
        }
        let fillSeconds = try Progress.timed("uswap fill", total: workload.pageCount, enabled: progress) { update throws(SwapWorkloadError) in
            try workload.fill(region.baseAddress, corpus: corpus.bytes, progress: update)
        }.seconds
        let filesBefore = store.fileFigures
        let touched = Progress.timed("uswap touches", total: workload.touches, enabled: progress) { update in
            workload.touch(region.baseAddress, beforeTiming: { region.resetStatistics() }, progress: update)
        }.result
        // Read right after the touch phase, while the pages are still swapped out (as the kernel side).
        let statistics = region.statistics
        let memUsedTotal = store.memUsedTotal
        let mmStatLine = store.mmStatLine
        let fileCacheBytes = store.fileCacheBytes
        let detail = store.detailLines
        // The touch phase's own second-tier figures: not the fill's, nor verification's reads.
        let filesAfter = store.fileFigures
        let files = (writtenBack: filesAfter.writtenBack - filesBefore.writtenBack,
                     fileReads: filesAfter.fileReads - filesBefore.fileReads,
                     fileStores: filesAfter.fileStores - filesBefore.fileStores)
        let writes = workload.writeModel()
        let verification = try Progress.timed("uswap verify", total: workload.pageCount, enabled: progress) { update throws(SwapWorkloadError) in
            try workload.verify(UnsafeRawPointer(region.baseAddress), corpus: corpus.bytes, writes: writes, progress: update)
        }.result
        let n = Double(max(workload.touches, 1))
        return .measured(UserSpaceFigures(
            usPerTouch: touched.seconds * 1e6 / n, cpuUsPerTouch: touched.cpuSeconds * 1e6 / n,
            swapIns: statistics.swapIns, p50: statistics.faultLatency.p50, p99: statistics.faultLatency.p99,
            p999: statistics.faultLatency.p999, policy: policy.rawValue, verified: verification.verified,
            mismatches: verification.mismatches, residentMaxBytes: statistics.residentMaxPages * region.pageSize,
            backendMemUsedTotal: memUsedTotal, mmStatLine: mmStatLine,
            peakRSSBytes: ResourceUsage.now().maxResidentBytes, swapOuts: statistics.swapOuts,
            fillSeconds: fillSeconds, touchSeconds: touched.seconds,
            backendLabel: store.label, writtenBack: files.writtenBack, fileReads: files.fileReads,
            fileStores: files.fileStores, fileCacheBytes: fileCacheBytes, poolLimitBytes: store.poolLimitBytes,
            secondTierExpected: store.secondTierExpected, detail: detail))
    }

    /// The store the region swaps to, as `--backend` says.
    func makeBackend(sizeBytes: Int) throws -> BenchBackend {
        switch backend {
        case .zram:
            return try BenchBackend.zram(
                sizeBytes: sizeBytes, memLimitBytes: memLimitMiB.map { $0 << 20 }, writebackPath: writebackFile,
                poolLimit: poolLimit)
        case .zswap(let file):
            return try BenchBackend.zswap(sizeBytes: sizeBytes, path: file, poolLimit: poolLimit ?? .percentOfRAM(20))
        }
    }

    /// The kernel's side: start the session, run a child `uswap` in the cgroup, restore.
    func runKernel(progress: Bool, executable: String? = nil) -> KernelOutcome {
        let backing = kernelBacking
        return KernelSwapSession.measure(
            sizeBytes: sizeMiB << 20, limitBytes: residentMiB << 20, backing: backing, executable: executable,
            arguments: { childArguments(cgroupPath: $0) },
            started: { session in
                guard progress else { return }
                switch backing {
                case .zram:
                    StandardError.line("kernel run: zram0 lz4 \(sizeMiB) MiB as swap, cgroup \(session.cgroup.path) limited to \(residentMiB) MiB")
                case .zswap(let percent):
                    let compressor = session.zswap.map { $0.compressorNote.isEmpty ? $0.compressor : "\($0.compressor): \($0.compressorNote)" } ?? "?"
                    StandardError.line("kernel run: zswap (max_pool_percent \(percent), compressor \(compressor)) in front of a swap file, cgroup \(session.cgroup.path) limited to \(residentMiB) MiB")
                }
            },
            restored: { session in
                guard progress else { return }
                switch backing {
                case .zram:
                    StandardError.line("kernel run: machine restored (swap off, zram0 reset, page-cluster \(session.originalPageCluster), cgroup removed)")
                case .zswap:
                    StandardError.line("kernel run: machine restored (swap off, swap file removed, zswap parameters put back, page-cluster \(session.originalPageCluster), cgroup removed)")
                }
            })
    }

    /// The kernel child: join the cgroup, then do exactly what our side does on plain memory.
    func runKernelChild(cgroupPath: String, progress: Bool) throws -> KernelChildReport {
        try MemoryCgroup(path: cgroupPath).join(pid: getpid())
        let workload = try workload()
        let region = try AnonymousMapping(size: workload.sizeBytes, reserveOnly: false)
        // Fill from a private mapping of the file, unmapped before the touches, like swapbench.c.
        let fillSeconds = try Progress.timed("kernel fill", total: workload.pageCount, enabled: progress) { update in
            let corpus = try MappedCorpus(path: corpusPath)
            try withExtendedLifetime(corpus) { try workload.fill(region.base, corpus: corpus.bytes, progress: update) }
        }.seconds
        let isZswap = if case .zswap = backend { true } else { false }
        let countersBefore = isZswap ? try KernelZswapCounters.read() : nil
        let touched = Progress.timed("kernel touches", total: workload.touches, enabled: progress) { update in
            workload.touch(region.base, progress: update)
        }.result
        let device = KernelZramDevice(name: "zram0", root: .live)
        let zswapFigures: KernelZswapFigures? = isZswap ? try KernelZswapFigures.read() : nil
        let touchCounters = try countersBefore.map { try KernelZswapCounters.read().since($0) }
        let mmStat = zswapFigures == nil ? try? device.mmStat() : nil
        let line = zswapFigures == nil ? (try? device.read("mm_stat")) ?? "" : ""
        let writes = workload.writeModel()
        let corpus = try MappedCorpus(path: corpusPath)
        let verification = try Progress.timed("kernel verify", total: workload.pageCount, enabled: progress) { update throws(SwapWorkloadError) in
            try workload.verify(region.base, corpus: corpus.bytes, writes: writes, progress: update)
        }.result
        let n = Double(max(workload.touches, 1))
        var report = KernelChildReport(
            usPerTouch: touched.seconds * 1e6 / n, cpuUsPerTouch: touched.cpuSeconds * 1e6 / n,
            majorFaults: touched.majorFaults, touchSeconds: touched.seconds, fillSeconds: fillSeconds,
            mmStat: mmStat, mmStatLine: line, verified: verification.verified, mismatches: verification.mismatches,
            extra: ["sink": Double(touched.sink % 1_000_000)])
        report.zswap = zswapFigures.map { KernelZswapReport(figures: $0, touchCounters: touchCounters) }
        return report
    }
}

/// `path` made absolute against the current directory.
func absolutePath(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    var buffer = [CChar](repeating: 0, count: 4096)
    guard getcwd(&buffer, buffer.count) != nil else { return path }
    let cwd = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return cwd == "/" ? "/" + path : cwd + "/" + path
}

// MARK: - Results

/// What our side measured.
struct UserSpaceFigures: Sendable {
    var usPerTouch: Double
    var cpuUsPerTouch: Double
    var swapIns: Int
    var p50: Double
    var p99: Double
    var p999: Double
    var policy: String
    var verified: Bool
    var mismatches: Int
    var residentMaxBytes: Int
    var backendMemUsedTotal: Int
    var mmStatLine: String
    var peakRSSBytes: Int
    var swapOuts: Int
    var fillSeconds: Double
    var touchSeconds: Double
    /// What the region swapped to.
    var backendLabel: String = ""
    /// Pages written back from the pool to a file.
    var writtenBack: Int = 0
    /// Pages read from a file.
    var fileReads: Int = 0
    /// Pages stored in a file without passing through the pool.
    var fileStores: Int = 0
    /// Bytes of the backing file in the page cache at the end of the touches.
    var fileCacheBytes: Int = 0
    /// The pool limit, if any.
    var poolLimitBytes: Int? = nil
    /// Whether a second tier had work to do (asked for, and the pool reached its limit).
    var secondTierExpected: Bool = false
    /// The backend's own counters, for people.
    var detail: String? = nil

    /// Pages that went to the file either way.
    var pagesToFile: Int { writtenBack + fileStores }

    /// Why the run must fail although it verified: a second tier that had work and did none.
    var secondTierProblem: String? {
        guard secondTierExpected else { return nil }
        if pagesToFile == 0 { return "the pool reached its limit but no page went to the file" }
        if fileReads == 0 { return "pages went to the file but none was read back" }
        return nil
    }
}

/// Our side: measured, or why not.
enum UserSpaceOutcome: Sendable {
    case measured(UserSpaceFigures)
    case unavailable(String)
}

extension KernelOutcome {
    /// One line for messages (the kernel's side not asked for names the flag that asks).
    var summary: String {
        if case .notRequested = self { return "not requested (--vs-kernel)" }
        return description
    }
}

/// Both sides of one run and their renderings.
struct SwapBenchResult: Sendable {
    var bench: SwapBench
    var ours: UserSpaceOutcome
    var kernel: KernelOutcome

    /// Whether every measured side verified (and ours was measured).
    var clean: Bool {
        guard case .measured(let o) = ours, o.verified, o.mismatches == 0, o.secondTierProblem == nil else { return false }
        if case .measured(let k) = kernel, !k.verified { return false }
        if case .failed = kernel { return false }
        return true
    }

    /// The side-by-side table for people.
    var humanReport: String {
        let b = bench
        let pattern = b.zipf > 0 ? "Zipf(\(b.zipf))" : "uniform"
        var lines = [
            "uswap bench swap: \(b.sizeMiB) MiB region, \(b.residentMiB) MiB resident, \(b.touches) touches "
                + "(\(pattern), \(b.writePercent)% writes), \(b.threads) thread\(b.threads == 1 ? "" : "s")",
            "",
        ]
        let k: KernelChildReport? = if case .measured(let r) = kernel { r } else { nil }
        guard case .measured(let o) = ours else {
            if case .unavailable(let reason) = ours { lines.append("uswap: unavailable (\(reason))") }
            if let k {
                lines.append("kernel: \(formatted(k.usPerTouch, digits: 2)) us/touch, \(k.majorFaults) major faults, "
                    + "mem_used_total \(k.zramMemUsedTotal), verified \(k.verified)")
            } else {
                lines.append("kernel: unavailable (\(kernel.summary))")
            }
            return lines.joined(separator: "\n")
        }
        func ratio(_ a: Double, _ b: Double?) -> String {
            guard let b, b > 0 else { return "" }
            return formatted(a / b, digits: 2) + "x"
        }
        let usPerSwapIn = o.swapIns > 0 ? o.touchSeconds * 1e6 / Double(o.swapIns) : .nan
        let kUsPerFault = k.map { $0.majorFaults > 0 ? $0.touchSeconds * 1e6 / Double($0.majorFaults) : .nan }
        let ourMemory = o.residentMaxBytes + o.backendMemUsedTotal
        let kernelMemory = k.map { (b.residentMiB << 20) + $0.compressedBytes }
        let kernelName = k == nil ? "kernel" : k?.zswap != nil ? "kernel zswap" : "kernel zram0"
        var table = TextTable(headers: ["", "uswap (\(o.policy))", kernelName, "uswap/kernel"])
        table.append(["time per touch", formatted(o.usPerTouch, digits: 2) + " us",
                      k.map { formatted($0.usPerTouch, digits: 2) + " us" } ?? "-", ratio(o.usPerTouch, k?.usPerTouch)])
        table.append(["CPU per touch", formatted(o.cpuUsPerTouch, digits: 2) + " us",
                      k.map { formatted($0.cpuUsPerTouch, digits: 2) + " us" } ?? "-", ratio(o.cpuUsPerTouch, k?.cpuUsPerTouch)])
        table.append(["swap-ins (kernel: major faults)", String(o.swapIns), k.map { String($0.majorFaults) } ?? "-",
                      ratio(Double(o.swapIns), k.map { Double($0.majorFaults) })])
        table.append(["time per swap-in", formatted(usPerSwapIn, digits: 2) + " us",
                      kUsPerFault.map { formatted($0, digits: 2) + " us" } ?? "-", ratio(usPerSwapIn, kUsPerFault)])
        table.append(["fault latency p50/p99/p99.9",
                      "\(formatted(o.p50, digits: 1))/\(formatted(o.p99, digits: 1))/\(formatted(o.p999, digits: 1)) us", "-", ""])
        table.append(["compressed memory (pool)", mib(o.backendMemUsedTotal), k.map { mib($0.compressedBytes) } ?? "-",
                      ratio(Double(o.backendMemUsedTotal), k.map { Double($0.compressedBytes) })])
        table.append(["resident (max) + compressed", mib(ourMemory), kernelMemory.map { mib($0) } ?? "-",
                      ratio(Double(ourMemory), kernelMemory.map(Double.init))])
        table.append(["verified", o.verified ? "yes" : "NO (\(o.mismatches) pages differ)",
                      k.map { $0.verified ? "yes" : "NO (\($0.mismatches) pages differ)" } ?? "-", ""])
        if o.poolLimitBytes != nil || o.pagesToFile > 0 || o.fileReads > 0 {
            // The touch phase's counts on both sides (the kernel child counts its own).
            let kc = k?.zswap.map { $0.touchCounters ?? $0.counters }
            let kw = kc.map { "\($0.writtenBack) + \(max(0, $0.deviceWrites - $0.writtenBack))" } ?? "-"
            table.append(["pages to the file (written back + stored)", "\(o.writtenBack) + \(o.fileStores)", kw, ""])
            table.append(["pages read from the file", String(o.fileReads), kc.map { String($0.deviceReads) } ?? "-", ""])
            table.append(["backing file in the page cache", mib(o.fileCacheBytes), "-", ""])
        }
        lines.append(table.rendered)
        lines.append("")
        lines.append("uswap backend: \(o.backendLabel)")
        if let detail = o.detail { lines.append(detail.split(separator: "\n").joined(separator: "; ")) }
        if let problem = o.secondTierProblem { lines.append("FAILED: second tier asked for but unused: \(problem)") }
        lines.append("uswap mm_stat: \(o.mmStatLine)")
        if let k {
            if let z = k.zswap { lines.append(z.summaryLine) } else { lines.append("zram0 mm_stat: \(k.zramMMStatLine)") }
        }
        lines.append("uswap peak RSS \(mib(o.peakRSSBytes)) (resident max \(mib(o.residentMaxBytes)), swap-outs \(o.swapOuts)); "
            + "fill \(formatted(o.fillSeconds, digits: 2)) s, touches \(formatted(o.touchSeconds, digits: 2)) s")
        if k == nil { lines.append("kernel: unavailable (\(kernel.summary))") }
        return lines.joined(separator: "\n")
    }
}

/// `bytes` as MiB with one decimal.
func mib(_ bytes: Int) -> String { formatted(Double(bytes) / 1_048_576, digits: 1) + " MiB" }

extension SwapBenchResult: Encodable {
    /// The `--json` object the scoreboard reads: the run's settings; our figures at the top
    /// level (`us_per_touch`, `swap_ins`, `memory` {...}, the second tier's counts) or
    /// `unavailable`; `kernel`, the kernel's figures or `unavailable` and why.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: JSONKey.self)
        try container.encode(bench.sizeMiB, forKey: "size_mib")
        try container.encode(bench.residentMiB, forKey: "resident_mib")
        try container.encode(bench.touches, forKey: "touches")
        try container.encode(bench.writePercent, forKey: "write_pct")
        try container.encode(bench.zipf, forKey: "zipf")
        try container.encode(bench.threads, forKey: "threads")
        switch ours {
        case .measured(let o):
            try container.encode(o.usPerTouch, forKey: "us_per_touch")
            try container.encode(o.cpuUsPerTouch, forKey: "cpu_us_per_touch")
            try container.encode(o.swapIns, forKey: "swap_ins")
            try container.encode(Nullable(finite: o.swapIns > 0 ? o.touchSeconds * 1e6 / Double(o.swapIns) : nil), forKey: "us_per_swap_in")
            try container.encode(o.p50, forKey: "p50_us")
            try container.encode(o.p99, forKey: "p99_us")
            try container.encode(o.p999, forKey: "p999_us")
            try container.encode(o.policy, forKey: "policy")
            try container.encode(o.verified, forKey: "verified")
            try container.encode(o.mismatches, forKey: "mismatches")
            try container.encode(o.swapOuts, forKey: "swap_outs")
            try container.encode(o.mmStatLine, forKey: "mm_stat")
            try container.encode(
                [
                    "resident_max_bytes": o.residentMaxBytes, "backend_mem_used_total": o.backendMemUsedTotal,
                    "peak_rss_bytes": o.peakRSSBytes, "file_cache_bytes": o.fileCacheBytes,
                ], forKey: "memory")
            try container.encode(bench.backend.description, forKey: "backend")
            try container.encode(o.writtenBack, forKey: "written_back")
            try container.encode(o.fileReads, forKey: "file_reads")
            try container.encode(o.fileStores, forKey: "file_stores")
            try container.encode(Nullable(o.poolLimitBytes), forKey: "pool_limit_bytes")
            try container.encodeIfPresent(o.secondTierProblem, forKey: "second_tier_problem")
        case .unavailable(let reason):
            try container.encode(reason, forKey: "unavailable")
            try container.encode(false, forKey: "verified")
        }
        switch kernel {
        case .measured(let k):
            try container.encode(KernelTouchFigures(report: k, residentBytes: bench.residentMiB << 20), forKey: "kernel")
        case .notRequested, .unavailable, .failed:
            try container.encode(Unavailable(kernel.summary), forKey: "kernel")
        }
    }
}

/// The `kernel` object of `bench swap --json`: the child's touch-phase figures, the kernel's
/// compressed memory (zram0's mem_used_total or zswap's pool) and the memory both sides are
/// compared on, and for zswap ``KernelZswapReport``'s members with the touch phase's
/// written-back pages and file reads beside ours.
private struct KernelTouchFigures: Encodable {
    let report: KernelChildReport
    /// The cgroup's limit: the kernel's resident memory.
    let residentBytes: Int

    func encode(to encoder: any Encoder) throws {
        let k = report
        try k.zswap?.encode(to: encoder)
        var container = encoder.container(keyedBy: JSONKey.self)
        try container.encode(k.usPerTouch, forKey: "us_per_touch")
        try container.encode(k.cpuUsPerTouch, forKey: "cpu_us_per_touch")
        try container.encode(k.majorFaults, forKey: "major_faults")
        try container.encode(Nullable(finite: k.majorFaults > 0 ? k.touchSeconds * 1e6 / Double(k.majorFaults) : nil), forKey: "us_per_major_fault")
        try container.encode(k.zramMemUsedTotal, forKey: "zram_mem_used_total")
        try container.encode(k.zramMMStatLine, forKey: "zram_mm_stat")
        try container.encode(k.verified, forKey: "verified")
        try container.encode(k.mismatches, forKey: "mismatches")
        try container.encode(k.compressedBytes, forKey: "compressed_bytes")
        try container.encode(residentBytes + k.compressedBytes, forKey: "memory_bytes")
        if let z = k.zswap {
            let touch = z.touchCounters ?? z.counters  // the touch phase's, as ours
            try container.encode(touch.writtenBack, forKey: "written_back")
            try container.encode(touch.deviceReads, forKey: "file_reads")
        }
    }
}
