import KernelSwap
import PageStore
import SecondTier
import Swap
import SystemSupport
import Workloads
import ZRAM
import ZSwap

/// The swap benchmark as a library call: what `uswap bench swap` runs, callable from tests.
public struct SwapBench: Sendable {
    /// The policy names `--policy` accepts.
    public static let policyNames = ["free-on-swapin", "lazy", "adaptive"]

    /// The corpus file whose pages fill the region.
    public var corpusPath: String
    /// The region size in MiB.
    public var sizeMiB: Int
    /// The resident limit in MiB (the kernel side's cgroup limit).
    public var residentMiB: Int
    /// Touches in total, over every thread.
    public var touches: Int
    /// The percentage of touches that increment a byte.
    public var writePercent: Int
    /// The Zipf exponent over a fixed permutation of the pages (0: uniform).
    public var zipf: Double
    /// The slot policy's name (one of ``policyNames``), or nil for the library's default.
    public var policy: String?
    /// Application threads, each with its own stream.
    public var threads: Int
    /// The zram device's mem_limit in MiB, if any.
    public var memLimitMiB: Int?
    /// Where eviction runs; `nil` for the library's default.
    public var reclaim: SwapRegionConfiguration.ReclaimMode? = nil
    /// How eviction takes a dirty page out; `nil` for the library's default.
    public var eviction: SwapRegionConfiguration.EvictionMethod? = nil
    /// What the region swaps to.
    public var backend: BenchBackendKind = .zram
    /// The pool limit of a zswap backend (nil: zswap's default, 20% of RAM), or where a zram
    /// backend with a writeback file starts writing back (nil: 1% of RAM).
    public var poolLimit: PoolLimit? = nil
    /// A writeback file for a zram backend.
    public var writebackFile: String? = nil
    /// How file-tier swap-ins are read; nil for the library's default.
    public var fileReads: SwapRegionConfiguration.FileReads? = nil
    /// The victim cache's size in pages (0: none); nil for the library's default (none).
    public var victimCachePages: Int? = nil
    /// Whether a regular file holding data at a backing file's path is replaced (`--force`).
    public var replaceExistingFile = false

    /// What a backing file's creation does with a file already at its path.
    public var existingFilePolicy: ExistingFilePolicy { replaceExistingFile ? .replaceRegularFile : .refuseNonEmpty }
    /// The second tier (`--tier`) of a zswap backend, or the writeback target of a zram one.
    public var tier: TierSpec? = nil
    /// Replicas a cluster tier waits for.
    public var replicas = 1
    /// A cluster tier's lease TTL.
    public var leaseTTLMilliseconds = 30_000
    /// Whether the second tier is encrypted.
    public var encryptTier = false

    /// The settings, each as its property says (the defaults are the command's).
    public init(
        corpusPath: String, sizeMiB: Int, residentMiB: Int, touches: Int, writePercent: Int, zipf: Double,
        policy: String?, threads: Int, memLimitMiB: Int?, reclaim: SwapRegionConfiguration.ReclaimMode? = nil,
        eviction: SwapRegionConfiguration.EvictionMethod? = nil, backend: BenchBackendKind = .zram,
        poolLimit: PoolLimit? = nil, writebackFile: String? = nil,
        fileReads: SwapRegionConfiguration.FileReads? = nil, replaceExistingFile: Bool = false, tier: TierSpec? = nil,
        replicas: Int = 1, leaseTTLMilliseconds: Int = 30_000, encryptTier: Bool = false, victimCachePages: Int? = nil
    ) {
        self.corpusPath = corpusPath
        self.sizeMiB = sizeMiB
        self.residentMiB = residentMiB
        self.touches = touches
        self.writePercent = writePercent
        self.zipf = zipf
        self.policy = policy
        self.threads = threads
        self.memLimitMiB = memLimitMiB
        self.reclaim = reclaim
        self.eviction = eviction
        self.backend = backend
        self.poolLimit = poolLimit
        self.writebackFile = writebackFile
        self.fileReads = fileReads
        self.replaceExistingFile = replaceExistingFile
        self.tier = tier
        self.replicas = replicas
        self.leaseTTLMilliseconds = leaseTTLMilliseconds
        self.encryptTier = encryptTier
        self.victimCachePages = victimCachePages
    }

    /// The workload both sides run.
    public func workload() throws(SwapWorkloadError) -> SwapWorkload {
        try SwapWorkload(sizeBytes: sizeMiB << 20, touches: touches, writePercent: writePercent, zipf: zipf, threads: threads)
    }

    /// The arguments that make a child `uswap` run the kernel side.
    public func childArguments(cgroupPath: String) -> [String] {
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
    public var kernelBacking: KernelSwapBacking {
        guard case .zswap = backend else { return .zram }
        switch poolLimit ?? .percentOfRAM(20) {
        case .percentOfRAM(let p): return .zswap(maxPoolPercent: p)
        case .bytes(let b):
            return .zswap(maxPoolPercent: KernelSwapBacking.zswapPoolPercent(holding: b, memTotalBytes: MemInfo.totalBytes()))
        }
    }

    // MARK: Both sides

    /// Runs our side, then (with `vsKernel`) the kernel's.
    public func run(vsKernel: Bool, progress: Bool, executable: String? = nil) throws -> SwapBenchResult {
        let workload = try workload()
        let ours = try runUserSpace(workload, progress: progress)
        var result = SwapBenchResult(bench: self, ours: ours, kernel: .notRequested)
        if vsKernel {
            result.kernel = runKernel(progress: progress, executable: executable)
        }
        return result
    }

    /// Our side: a SwapRegion over a ZramDevice.
    public func runUserSpace(_ workload: SwapWorkload, progress: Bool) throws -> UserSpaceOutcome {
        if case .failure(let error) = SwapRegion.probe() { return .unavailable("userfaultfd: \(error)") }
        let corpus = try CorpusFile(path: corpusPath)
        let policy = self.policy.flatMap(SlotPolicy.init(rawValue:)) ?? .default
        let store = try makeBackend(sizeBytes: workload.sizeBytes)
        defer {
            if let problem = store.close() { StandardError.line("uswap: closing the second tier: \(problem)") }
        }
        var regionConfiguration = SwapRegionConfiguration(size: workload.sizeBytes, residentLimit: residentMiB << 20, policy: policy)
        if let reclaim { regionConfiguration.reclaimMode = reclaim }
        if let eviction { regionConfiguration.evictionMethod = eviction }
        if let fileReads { regionConfiguration.fileReads = fileReads }
        if let victimCachePages { regionConfiguration.victimCachePages = victimCachePages }
        var readsNote = ""
        if fileReads == nil, regionConfiguration.faultMode == .signal, regionConfiguration.fileReads == .inline,
            !store.backend.ioReadsAreSignalSafe
        {
            // A cluster or an encrypting tier must not be read in the SIGBUS handler.
            regionConfiguration.fileReads = .ioThreads(2)
            readsNote = " (chosen: the second tier cannot be read in a signal handler)"
        }
        let region = try SwapRegion(regionConfiguration, backend: store.backend)
        defer { region.close() }
        if progress {
            StandardError.line("uswap run: SwapRegion \(sizeMiB) MiB, resident limit \(residentMiB) MiB, policy \(policy.rawValue), reclaim \(regionConfiguration.reclaimMode.rawValue), eviction \(regionConfiguration.evictionMethod.rawValue), file reads \(regionConfiguration.fileReads)\(readsNote), \(store.label)")
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
            victimCacheHits: statistics.victimCacheHits, victimCachePages: statistics.victimCachePages,
            writeProtectFaults: statistics.writeProtectFaults + statistics.spanProtectFaults,
            fillSeconds: fillSeconds, touchSeconds: touched.seconds,
            backendLabel: store.label, writtenBack: files.writtenBack, fileReads: files.fileReads,
            fileStores: files.fileStores, fileCacheBytes: fileCacheBytes, poolLimitBytes: store.poolLimitBytes,
            secondTierExpected: store.secondTierExpected, detail: detail))
    }

    /// The store the region swaps to, as `--backend` says.
    public func makeBackend(sizeBytes: Int) throws -> BenchBackend {
        // A plain file tier takes today's paths (`zswap:FILE`, `--writeback FILE`): the same
        // code, the same figures.
        switch (backend, tier) {
        case (.zram, .file(let path)?) where !encryptTier:
            return try BenchBackend.zram(
                sizeBytes: sizeBytes, memLimitBytes: memLimitMiB.map { $0 << 20 }, writebackPath: path, poolLimit: poolLimit)
        case (.zswap, .file(let path)?) where !encryptTier:
            return try BenchBackend.zswap(sizeBytes: sizeBytes, path: path, poolLimit: poolLimit ?? .percentOfRAM(20))
        case (.zram, let spec?):
            let opened = try OpenedTier.open(spec, objectCount: sizeBytes / 4096, replicas: replicas, leaseTTLMilliseconds: leaseTTLMilliseconds,
                encrypt: encryptTier)
            return try BenchBackend.zram(
                sizeBytes: sizeBytes, memLimitBytes: memLimitMiB.map { $0 << 20 }, tier: opened, poolLimit: poolLimit)
        case (.zswap, let spec?):
            let opened = try OpenedTier.open(spec, objectCount: sizeBytes / 4096, replicas: replicas, leaseTTLMilliseconds: leaseTTLMilliseconds,
                encrypt: encryptTier)
            return try BenchBackend.zswap(sizeBytes: sizeBytes, tier: opened, poolLimit: poolLimit ?? .percentOfRAM(20))
        case (.zram, nil):
            return try BenchBackend.zram(
                sizeBytes: sizeBytes, memLimitBytes: memLimitMiB.map { $0 << 20 }, writebackPath: writebackFile,
                poolLimit: poolLimit, existing: existingFilePolicy)
        case (.zswap(let file?), nil):
            return try BenchBackend.zswap(
                sizeBytes: sizeBytes, path: file, poolLimit: poolLimit ?? .percentOfRAM(20), existing: existingFilePolicy)
        case (.zswap(nil), nil):
            throw SwapBenchError.zswapNeedsTier
        }
    }

    /// The kernel's side: start the session, run a child `uswap` in the cgroup, restore.
    public func runKernel(progress: Bool, executable: String? = nil) -> KernelOutcome {
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
    public func runKernelChild(cgroupPath: String, progress: Bool) throws -> KernelChildReport {
        let cgroup = try MemoryCgroup(path: cgroupPath)
        try cgroup.join(pid: getpid())
        let workload = try workload()
        let region = try AnonymousMapping(size: workload.sizeBytes, reserveOnly: false)
        // Fill from a private mapping of the file, unmapped before the touches, like swapbench.c.
        let fillSeconds = try Progress.timed("kernel fill", total: workload.pageCount, enabled: progress) { update in
            let corpus = try MappedCorpus(path: corpusPath)
            try withExtendedLifetime(corpus) { try workload.fill(region.base, corpus: corpus.bytes, progress: update) }
        }.seconds
        let isZswap = if case .zswap = backend { true } else { false }
        let countersBefore = isZswap ? try KernelZswapCounters.read() : nil
        // The kernel's memory is measured over the touch phase, as ours: the corpus' page cache
        // from the fill is dropped and the cgroup's peak reset first.
        let window = CgroupPeakWindow.start(cgroup, droppingCacheOf: [corpusPath])
        let touched = Progress.timed("kernel touches", total: workload.touches, enabled: progress) { update in
            workload.touch(region.base, progress: update)
        }.result
        let peak = window.peak()
        let device = KernelZramDevice(name: "zram0", root: .live)
        let zswapFigures: KernelZswapFigures? = isZswap ? try KernelZswapFigures.read() : nil
        let touchCounters = try countersBefore.map { try KernelZswapCounters.read().since($0) }
        let mmStat: Result<KernelMMStat, KernelZramError>? = isZswap ? nil : Result { () throws(KernelZramError) in try device.mmStat() }
        let writes = workload.writeModel()
        let corpus = try MappedCorpus(path: corpusPath)
        let verification = try Progress.timed("kernel verify", total: workload.pageCount, enabled: progress) { update throws(SwapWorkloadError) in
            try workload.verify(region.base, corpus: corpus.bytes, writes: writes, progress: update)
        }.result
        let n = Double(max(workload.touches, 1))
        var report = KernelChildReport(
            usPerTouch: touched.seconds * 1e6 / n, cpuUsPerTouch: touched.cpuSeconds * 1e6 / n,
            majorFaults: touched.majorFaults, touchSeconds: touched.seconds, fillSeconds: fillSeconds,
            mmStat: nil, mmStatLine: "", verified: verification.verified, mismatches: verification.mismatches,
            extra: ["sink": Double(touched.sink % 1_000_000)])
        if let mmStat { report.record(zramMMStat: mmStat) }
        report.record(cgroupPeak: peak)
        report.zswap = zswapFigures.map { KernelZswapReport(figures: $0, touchCounters: touchCounters) }
        return report
    }
}

/// Why a swap benchmark's settings cannot make its store.
public enum SwapBenchError: Error, Equatable, CustomStringConvertible {
    /// `--backend zswap` without a file of its own and without a second tier.
    case zswapNeedsTier

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .zswapNeedsTier:
            "--backend zswap needs --tier: give --tier FILE or --tier redis://HOST:PORT, or say --backend zswap:FILE"
        }
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
public struct UserSpaceFigures: Sendable {
    /// Wall time per touch, in microseconds.
    public var usPerTouch: Double
    /// CPU time per touch, in microseconds.
    public var cpuUsPerTouch: Double
    /// Pages swapped in during the touches.
    public var swapIns: Int
    /// The median fault latency, in microseconds.
    public var p50: Double
    /// The 99th percentile fault latency, in microseconds.
    public var p99: Double
    /// The 99.9th percentile fault latency, in microseconds.
    public var p999: Double
    /// The slot policy the region ran with.
    public var policy: String
    /// Whether every page matched the model of the writes afterwards.
    public var verified: Bool
    /// Pages that did not match.
    public var mismatches: Int
    /// The most resident bytes the region held.
    public var residentMaxBytes: Int
    /// The pool's mem_used_total right after the touches.
    public var backendMemUsedTotal: Int
    /// The pool's mm_stat line right after the touches.
    public var mmStatLine: String
    /// The process's peak RSS (getrusage).
    public var peakRSSBytes: Int
    /// Pages swapped out (compressed) during the touches.
    public var swapOuts: Int
    /// Faults served from the victim cache during the touches (not swap-ins: no read).
    public var victimCacheHits: Int = 0
    /// Victim cache frames holding memory at the end of the touches (part of the resident
    /// maximum).
    public var victimCachePages: Int = 0
    /// Writes that found their page write-protected during the touches (watched since a
    /// swap-in, kept clean by a lazy policy, or in an eviction's span): one fault each.
    public var writeProtectFaults: Int = 0
    /// The fill's wall time in seconds.
    public var fillSeconds: Double
    /// The touch phase's wall time in seconds.
    public var touchSeconds: Double
    /// What the region swapped to.
    public var backendLabel: String = ""
    /// Pages written back from the pool to a file.
    public var writtenBack: Int = 0
    /// Pages read from a file.
    public var fileReads: Int = 0
    /// Pages stored in a file without passing through the pool.
    public var fileStores: Int = 0
    /// Bytes of the backing file in the page cache at the end of the touches.
    public var fileCacheBytes: Int = 0
    /// The pool limit, if any.
    public var poolLimitBytes: Int? = nil
    /// Whether a second tier had work to do (asked for, and the pool reached its limit).
    public var secondTierExpected: Bool = false
    /// The backend's own counters, for people.
    public var detail: String? = nil

    /// Pages that went to the file either way.
    public var pagesToFile: Int { writtenBack + fileStores }

    /// Why the run must fail although it verified: a second tier that had work and did none.
    public var secondTierProblem: String? {
        guard secondTierExpected else { return nil }
        if pagesToFile == 0 { return "the pool reached its limit but no page went to the file" }
        if fileReads == 0 { return "pages went to the file but none was read back" }
        return nil
    }
}

/// Our side: measured, or why not.
public enum UserSpaceOutcome: Sendable {
    /// The run happened: its figures.
    case measured(UserSpaceFigures)
    /// Why our side could not run (no userfaultfd).
    case unavailable(String)
}

extension KernelOutcome {
    /// One line for messages (the kernel's side not asked for names the flag that asks).
    public var summary: String {
        if case .notRequested = self { return "not requested (--vs-kernel)" }
        return description
    }
}

/// Both sides of one run and their renderings.
public struct SwapBenchResult: Sendable {
    /// The settings the run had.
    public var bench: SwapBench
    /// Our side.
    public var ours: UserSpaceOutcome
    /// The kernel's side.
    public var kernel: KernelOutcome

    /// Whether every measured side verified (and ours was measured).
    public var clean: Bool {
        guard case .measured(let o) = ours, o.verified, o.mismatches == 0, o.secondTierProblem == nil else { return false }
        if case .measured(let k) = kernel, !k.verified { return false }
        if case .failed = kernel { return false }
        return true
    }

    /// The side-by-side table for people.
    public var humanReport: String {
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
                    + "mem_used_total \(k.zramMemUsedTotal.map(String.init) ?? "unavailable"), verified \(k.verified)")
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
        let kernelMemory = k?.memoryBytes  // the cgroup's measured peak + the pool, or unavailable
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
        table.append(["compressed memory (pool)", mib(o.backendMemUsedTotal), k.map { mibOrUnavailable($0.compressedBytes) } ?? "-",
                      ratio(Double(o.backendMemUsedTotal), k?.compressedBytes.map(Double.init))])
        table.append(["resident (max; kernel: cgroup peak)", mib(o.residentMaxBytes), k.map { mibOrUnavailable($0.cgroupPeakBytes) } ?? "-",
                      ratio(Double(o.residentMaxBytes), k?.cgroupPeakBytes.map(Double.init))])
        table.append(["resident + compressed", mib(ourMemory), k.map { _ in mibOrUnavailable(kernelMemory) } ?? "-",
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
            lines.append("kernel cgroup: peak \(mibOrUnavailable(k.cgroupPeakBytes)) over the touches (memory.max_usage_in_bytes, reset after the fill), limit \(b.residentMiB) MiB")
            for (figure, reason) in k.unavailableFigures.sorted(by: { $0.key < $1.key }) {
                lines.append("kernel \(figure) unavailable: \(reason)")
            }
        }
        lines.append("uswap peak RSS \(mib(o.peakRSSBytes)) (resident max \(mib(o.residentMaxBytes)), swap-outs \(o.swapOuts), "
            + "victim cache \(o.victimCachePages) pages, \(o.victimCacheHits) hits); "
            + "fill \(formatted(o.fillSeconds, digits: 2)) s, touches \(formatted(o.touchSeconds, digits: 2)) s")
        if k == nil { lines.append("kernel: unavailable (\(kernel.summary))") }
        return lines.joined(separator: "\n")
    }
}

/// `bytes` as MiB with one decimal.
public func mib(_ bytes: Int) -> String { formatted(Double(bytes) / 1_048_576, digits: 1) + " MiB" }

extension SwapBenchResult: Encodable {
    /// The `--json` object the scoreboard reads: the run's settings; our figures at the top
    /// level (`us_per_touch`, `swap_ins`, `memory` {...}, the second tier's counts) or
    /// `unavailable`; `kernel`, the kernel's figures or `unavailable` and why.
    public func encode(to encoder: any Encoder) throws {
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
            try container.encode(o.victimCacheHits, forKey: "victim_cache_hits")
            try container.encode(o.victimCachePages, forKey: "victim_cache_pages")
            try container.encode(o.writeProtectFaults, forKey: "write_protect_faults")
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
            try container.encode(KernelTouchFigures(report: k, limitBytes: bench.residentMiB << 20), forKey: "kernel")
        case .notRequested, .unavailable, .failed:
            try container.encode(Unavailable(kernel.summary), forKey: "kernel")
        }
    }
}

/// The `kernel` object of `bench swap --json`: the child's touch-phase figures, the kernel's
/// compressed memory (zram0's mem_used_total or zswap's pool) and the memory both sides are
/// compared on, and for zswap ``KernelZswapReport``'s members with the touch phase's
/// written-back pages and file reads beside ours. `memory_bytes` is measured: the cgroup's peak
/// over the touches (`cgroup_peak_bytes`, memory.max_usage_in_bytes reset after the fill, so the
/// corpus' page cache does not count) plus `compressed_bytes` (neither pool is charged to a v1
/// cgroup); `cgroup_limit_bytes` is the configured limit. A figure that could not be read is
/// null, and `figures_unavailable` says why.
private struct KernelTouchFigures: Encodable {
    let report: KernelChildReport
    /// The cgroup's configured limit.
    let limitBytes: Int

    func encode(to encoder: any Encoder) throws {
        let k = report
        try k.zswap?.encode(to: encoder)
        var container = encoder.container(keyedBy: JSONKey.self)
        try container.encode(k.usPerTouch, forKey: "us_per_touch")
        try container.encode(k.cpuUsPerTouch, forKey: "cpu_us_per_touch")
        try container.encode(k.majorFaults, forKey: "major_faults")
        try container.encode(Nullable(finite: k.majorFaults > 0 ? k.touchSeconds * 1e6 / Double(k.majorFaults) : nil), forKey: "us_per_major_fault")
        try container.encode(Nullable(k.zramMemUsedTotal), forKey: "zram_mem_used_total")
        try container.encode(k.zramMMStatLine, forKey: "zram_mm_stat")
        try container.encode(k.verified, forKey: "verified")
        try container.encode(k.mismatches, forKey: "mismatches")
        try container.encode(Nullable(k.compressedBytes), forKey: "compressed_bytes")
        try container.encode(Nullable(k.cgroupPeakBytes), forKey: "cgroup_peak_bytes")
        try container.encode(limitBytes, forKey: "cgroup_limit_bytes")
        try container.encode(Nullable(k.memoryBytes), forKey: "memory_bytes")
        if !k.unavailableFigures.isEmpty { try container.encode(k.unavailableFigures, forKey: "figures_unavailable") }
        if let z = k.zswap {
            let touch = z.touchCounters ?? z.counters  // the touch phase's, as ours
            try container.encode(touch.writtenBack, forKey: "written_back")
            try container.encode(touch.deviceReads, forKey: "file_reads")
        }
    }
}
