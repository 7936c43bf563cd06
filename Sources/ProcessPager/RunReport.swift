/// What `uswap run --report FILE` writes: one JSON object (the CLI encodes it with
/// JSONEncoder). Byte counts are bytes, times seconds, latencies microseconds.
public struct RunReport: Codable, Sendable, Equatable {
    /// The command and its arguments.
    public var command: [String]
    /// The program's exit status, or 128+N when signal N ended it.
    public var exitStatus: Int
    /// From the start of the program to its end.
    public var wallSeconds: Double
    /// CPU time of the program (its waited-for descendants included) and of the pager.
    public var cpuSeconds: Double
    /// CPU time of the program alone.
    public var programCpuSeconds: Double
    /// CPU time of uswap itself (fault reader, evictor, sampling).
    public var pagerCpuSeconds: Double
    /// The `--resident` limit.
    public var residentLimitBytes: Int
    /// Most managed pages resident (with the pager's scratch pages), sampled.
    public var residentMaxBytes: Int
    /// Most memory the compressed pools held (max mem_used_total), sampled.
    public var poolMaxBytes: Int
    /// Most of: the tree's anonymous memory + the pools + the pager's uncompressed copies.
    public var memoryMaxBytes: Int
    /// Most anonymous memory in the tree that the pager does not manage.
    public var unmanagedAnonMaxBytes: Int
    /// Most anonymous memory in the tree (managed or not).
    public var treeAnonMaxBytes: Int
    /// Most anonymous memory of uswap itself (pools included).
    public var pagerAnonMaxBytes: Int
    /// Pages brought back in.
    public var swapIns: Int
    /// Pages taken out.
    public var swapOuts: Int
    /// Fault service time percentiles (reading the fault to the page installed).
    public var p50Us: Double
    /// See ``p50Us``.
    public var p99Us: Double
    /// SHA-256 of everything the program wrote to its standard output.
    public var stdoutSha256: String
    /// The kernel's side (`--vs-kernel`), or why it is not there.
    public var kernel: KernelSide
    /// The store, the codec and the slot policy.
    public var backend: String
    /// See ``backend``.
    public var codec: String
    /// See ``backend``.
    public var policy: String
    /// The pager's counters at the end.
    public var pager: PagerCounts

    /// The kernel's side of a comparison run.
    public struct KernelSide: Codable, Sendable, Equatable {
        /// Why there is no kernel run.
        public var unavailable: String?
        /// A side that is not there, and why.
        public init(unavailable: String) { self.unavailable = unavailable }
    }

    /// The pager's counters, as the report names them.
    public struct PagerCounts: Codable, Sendable, Equatable {
        /// See ``PagerStatistics``.
        public var missingFaults, writeProtectFaults, duplicateFaults, zeroFills, zeroEvictions: Int
        /// See ``PagerStatistics``.
        public var waitedOnEviction, parkedFaults, capOverrides, failedReads, failedWrites: Int
        /// See ``PagerStatistics``.
        public var unexpectedMissing, lostPages, pinnedPages, sharedPages, unsharedPages: Int
        /// See ``PagerStatistics``.
        public var secondChances, refaults, removedPages, remappedPages, batches, moveCalls: Int
        /// See ``PagerStatistics``.
        public var sessions, forks, unannouncedForks, pendingBytes: Int
        /// mm_stat figures at the end.
        public var origDataSize, comprDataSize, memUsedTotal, metadataBytes: Int
        /// Pages written back to a file tier, and read back.
        public var writtenBack, fileReads: Int
        /// Fault service p99.9 and the number of samples.
        public var p999Us: Double
        /// See ``p999Us``.
        public var latencySamples: Int
        /// The lowest cap the resident pages had (limit minus charged unmanaged memory).
        public var capMinBytes: Int

        /// The counts from a statistics snapshot and the sampled figures.
        public init(_ s: PagerStatistics, figures: PagerFigures) {
            missingFaults = s.missingFaults
            writeProtectFaults = s.writeProtectFaults
            duplicateFaults = s.duplicateFaults
            zeroFills = s.zeroFills
            zeroEvictions = s.zeroEvictions
            waitedOnEviction = s.waitedOnEviction
            parkedFaults = s.parkedFaults
            capOverrides = s.capOverrides
            failedReads = s.failedReads
            failedWrites = s.failedWrites
            unexpectedMissing = s.unexpectedMissing
            lostPages = s.lostPages
            pinnedPages = s.pinnedPages
            sharedPages = s.sharedPages
            unsharedPages = s.unsharedPages
            secondChances = s.secondChances
            refaults = s.refaults
            removedPages = s.removedPages
            remappedPages = s.remappedPages
            batches = s.batches
            moveCalls = s.moveCalls
            sessions = s.sessionsStarted
            forks = s.forks
            unannouncedForks = s.unannouncedForks
            pendingBytes = s.pendingBytes
            origDataSize = s.origDataSize
            comprDataSize = s.comprDataSize
            memUsedTotal = s.memUsedTotal
            metadataBytes = s.metadataBytes
            writtenBack = s.writtenBack
            fileReads = s.fileReads
            p999Us = s.latency.p999
            latencySamples = s.latency.count
            capMinBytes = figures.capMinBytes == Int.max ? 0 : figures.capMinBytes
        }
    }

    /// A report from its parts.
    public init(
        command: [String], exitStatus: Int, wallSeconds: Double, programCpuSeconds: Double, pagerCpuSeconds: Double,
        configuration: PagerConfiguration, statistics: PagerStatistics, figures: PagerFigures, stdoutSha256: String,
        kernel: KernelSide
    ) {
        self.command = command
        self.exitStatus = exitStatus
        self.wallSeconds = wallSeconds
        self.programCpuSeconds = programCpuSeconds
        self.pagerCpuSeconds = pagerCpuSeconds
        cpuSeconds = programCpuSeconds + pagerCpuSeconds
        residentLimitBytes = configuration.residentLimitBytes
        residentMaxBytes = figures.residentMaxBytes
        poolMaxBytes = figures.poolMaxBytes
        memoryMaxBytes = figures.memoryMaxBytes
        unmanagedAnonMaxBytes = figures.unmanagedAnonMaxBytes
        treeAnonMaxBytes = figures.treeAnonMaxBytes
        pagerAnonMaxBytes = figures.pagerAnonMaxBytes
        swapIns = statistics.swapIns
        swapOuts = statistics.swapOuts
        p50Us = statistics.latency.p50
        p99Us = statistics.latency.p99
        self.stdoutSha256 = stdoutSha256
        self.kernel = kernel
        backend = configuration.backend.description + (configuration.writebackPath.map { " writeback:\($0)" } ?? "")
        codec = configuration.codec.description
        policy = configuration.policy.rawValue
        pager = PagerCounts(statistics, figures: figures)
    }
}
