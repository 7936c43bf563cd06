import SystemSupport

// The zswap side of a session: the kernel's zswap in front of a fresh swap file (twice the
// region, in /var/tmp) as the only swap, set up the way the kzswap.sh harness does it.

extension KernelSwapSession {
    /// What zswap will be set to, from what is found (reads only): the swap file's path and
    /// size, the compressor (lz4 when the crypto API has it), the parameters to put back.
    public static func zswapSetup(
        sizeBytes: Int, maxPoolPercent: Int, root: SystemRoot, directory: String
    ) throws(KernelSwapError) -> KernelZswapSetup {
        let parameters = ZswapParameters(root: root)
        let original = parameters.snapshot()
        for name in ["enabled", "compressor", "max_pool_percent"] where original[name] == nil {
            throw .unavailable("cannot read zswap's \(name) (\(parameters.path(name)))")
        }
        let found = original["compressor"] ?? ""
        let crypto = (try? ProcFile.read(root.path("/proc/crypto"))).map(ZswapParameters.cryptoAlgorithms) ?? []
        let preferred = ZswapParameters.preferredCompressor
        let compressor = crypto.contains(preferred) ? preferred : found
        let note = compressor == preferred ? "" : "\(preferred) is not in this kernel's crypto API, so zswap compresses with \(found)"
        let bytes = 2 * sizeBytes
        if let problem = SwapFile.spaceProblem(directory: directory, bytes: bytes) { throw .unavailable(problem) }
        return KernelZswapSetup(
            swapFilePath: SwapFile.uniquePath(in: directory), swapFileBytes: bytes, compressor: compressor,
            compressorNote: note, maxPoolPercent: maxPoolPercent, original: original)
    }

    /// zswap: the swap file (created, allocated, header, swapon), then the compressor,
    /// max_pool_percent and enabled=Y; each undo registered right after its change (a
    /// parameter's before its write, so a half-done write is put back too).
    func startZswap(_ setup: KernelZswapSetup) throws(KernelSwapError) {
        let path = setup.swapFilePath
        let file = try SwapFile.create(path, bytes: setup.swapFileBytes)
        let root = self.root
        remember(registry.register("rm \(path)") {
            // A file still in use as swap stays, so `swapoff PATH` can still find it.
            if (try? SwapSystemCalls.activeSwaps(root: root).contains(path)) != false {
                StandardError.line("uswap: \(path) may still be swap; left in place: run `swapoff \(path) && rm \(path)`")
                return
            }
            do { try file.remove() } catch { StandardError.line("uswap: \(error)") }
        })
        try swapOn(path)
        let parameters = ZswapParameters(root: root)
        let changes = [
            ("compressor", setup.compressor), ("max_pool_percent", String(setup.maxPoolPercent)), ("enabled", "Y"),
        ]
        for (name, value) in changes {
            guard let was = setup.original[name], was != value else { continue }
            remember(registry.register("zswap \(name) \(was)") {
                do { try parameters.write(was, to: name) } catch { StandardError.line("uswap: \(error)") }
            })
            try parameters.write(value, to: name)
        }
    }

    /// zswap's and the swap file's events since the session was set up (zero counters for zram).
    public func zswapCountersSinceStart() throws(KernelSwapError) -> KernelZswapCounters {
        guard let start = countersAtStart.withLock({ $0 }) else { return KernelZswapCounters() }
        return try KernelZswapCounters.read(root: root).since(start)
    }

    /// The child's zswap figures completed with what the parent knows: the vmstat deltas since
    /// the session was set up, the compressor and max_pool_percent.
    ///
    /// - Throws: ``KernelSwapError/failed(_:)`` when a swap other than the session's file is on
    ///   now: vmstat's counters are system-wide, so they would mix that swap's traffic in.
    public func completeZswapReport(_ childReport: KernelZswapReport) throws(KernelSwapError) -> KernelZswapReport {
        if let zswap, let problem = Self.swapChangeProblem(activeSwaps: try SwapSystemCalls.activeSwaps(root: root), swapFile: zswap.swapFilePath) {
            throw .failed(problem)
        }
        var report = childReport
        report.counters = try zswapCountersSinceStart()
        report.compressor = zswap?.compressor ?? ""
        report.compressorNote = zswap?.compressorNote ?? ""
        report.maxPoolPercent = zswap?.maxPoolPercent ?? 0
        return report
    }

    /// Why counters read now would not be the run's alone (nil: the session's swap file is the
    /// only swap, as at the start).
    public static func swapChangeProblem(activeSwaps: [String], swapFile: String) -> String? {
        guard activeSwaps != [swapFile] else { return nil }
        let now = activeSwaps.isEmpty ? "none" : activeSwaps.joined(separator: ", ")
        return "the swaps changed during the run (now: \(now); expected only \(swapFile)): zswap's counters are "
            + "system-wide, so they would not be this run's alone; run again when nothing else swaps"
    }

    /// What is not as it was after a zswap session: swap still on, the swap file still there, a
    /// zswap parameter changed, the cgroup still there, page-cluster changed.
    public static func zswapLeftovers(root: SystemRoot = .live, cgroup: MemoryCgroup, pageCluster: String, setup: KernelZswapSetup) -> [String] {
        var problems = SwapSystemCalls.leftoverSwaps(root: root)
        if Sysfs.exists(setup.swapFilePath) { problems.append("\(setup.swapFilePath) still exists") }
        let now = ZswapParameters(root: root).snapshot()
        for name in ZswapParameters.names where now[name] != setup.original[name] {
            problems.append("zswap \(name) is \(now[name] ?? "unreadable"), was \(setup.original[name] ?? "unreadable")")
        }
        if cgroup.exists { problems.append("\(cgroup.path) still exists") }
        let cluster = Sysfs.readValue(root.path("/proc/sys/vm/page-cluster")) ?? "?"
        if cluster != pageCluster { problems.append("page-cluster is \(cluster), was \(pageCluster)") }
        return problems
    }
}
