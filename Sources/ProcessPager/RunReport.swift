import PageStore

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
    /// Most pages held compressed at once (sampled), in bytes of uncompressed pages: how much
    /// of the heap was out at the same time.
    public var swappedMaxBytes: Int
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
    /// The lowest cap the resident pages had (the limit minus charged unmanaged memory).
    public var capMinBytes: Int
    /// The pager's counters at the end.
    public var pager: PagerStatistics
    /// The second tier (`--tier`, `--writeback`, `zswap:FILE`) and its figures; nil without one.
    public var tier: TierFigures?

    /// A second tier's name and figures, as `bench swap` reports its tier's.
    public struct TierFigures: Codable, Sendable, Equatable {
        /// Each chunk's tier (`file PATH`, or `cluster URL (WAIT N, keys PATTERN)`, maybe
        /// `, encrypted`), separated by `; `.
        public var name: String
        /// Pages written back from the pools to the tier (zswap: the LRU writeback, zram:
        /// writeback of idle slots).
        public var writtenBack: Int
        /// Pages read back from the tier on swap-ins.
        public var tierReads: Int
        /// Objects the tier acknowledged (stored on the master and its replicas, or in the file).
        public var acknowledgedWrites: Int
        /// Objects the tier did not acknowledge (they stayed in the pool and were tried again).
        public var refusedWrites: Int
        /// Reads of the tier that failed (the thread got SIGBUS).
        public var failedReads: Int
        /// Objects the tier held when the figures were taken.
        public var storedObjects: Int
        /// What closing the tier could not clean up (keys left on a node that was down).
        public var closeProblems: [String]

        /// Figures from the stores' counters and the tier's.
        public init(name: String, writtenBack: Int, tierReads: Int, statistics: PageTierStatistics, closeProblems: [String]) {
            self.name = name
            self.writtenBack = writtenBack
            self.tierReads = tierReads
            acknowledgedWrites = statistics.acknowledgedWrites
            refusedWrites = statistics.refusedWrites
            failedReads = statistics.failedReads
            storedObjects = statistics.storedObjects
            self.closeProblems = closeProblems
        }
    }

    /// The kernel's side of a comparison run (`--vs-kernel`): the same command in a memory
    /// cgroup with the same limit and zram0 (lz4, page-cluster 0) as its only swap. Either
    /// ``unavailable`` is set, or the figures are.
    public struct KernelSide: Codable, Sendable, Equatable {
        /// Why there is no kernel run.
        public var unavailable: String?
        /// The command's exit status, or 128+N when signal N ended it (the OOM killer: 137).
        public var exitStatus: Int?
        /// From the start of the command to its end.
        public var wallSeconds: Double?
        /// CPU time of the command and its waited-for descendants.
        public var cpuSeconds: Double?
        /// The cgroup's memory.max_usage_in_bytes.
        public var cgroupMaxUsageBytes: Int?
        /// zram0's mem_used_max (mm_stat).
        public var zramMemUsedMaxBytes: Int?
        /// The memory measured: the cgroup's max usage plus zram's max pool.
        public var memoryBytes: Int?
        /// Major faults of the command and its waited-for descendants.
        public var majorFaults: Int?
        /// Whether the cgroup's OOM killer ended a process of the run.
        public var oomKilled: Bool?
        /// SHA-256 of the command's standard output on the kernel's side.
        public var stdoutSha256: String?
        /// Whether both sides wrote the same standard output.
        public var outputsIdentical: Bool?
        /// Whether the machine was put back as found (zram0, swap, page-cluster, cgroup).
        public var restored: Bool?

        /// A side that is not there, and why.
        public init(unavailable: String) { self.unavailable = unavailable }

        /// A side that ran.
        public init(
            exitStatus: Int, wallSeconds: Double, cpuSeconds: Double, cgroupMaxUsageBytes: Int, zramMemUsedMaxBytes: Int,
            majorFaults: Int, oomKilled: Bool, stdoutSha256: String, outputsIdentical: Bool, restored: Bool
        ) {
            self.exitStatus = exitStatus
            self.wallSeconds = wallSeconds
            self.cpuSeconds = cpuSeconds
            self.cgroupMaxUsageBytes = cgroupMaxUsageBytes
            self.zramMemUsedMaxBytes = zramMemUsedMaxBytes
            memoryBytes = cgroupMaxUsageBytes + zramMemUsedMaxBytes
            self.majorFaults = majorFaults
            self.oomKilled = oomKilled
            self.stdoutSha256 = stdoutSha256
            self.outputsIdentical = outputsIdentical
            self.restored = restored
        }
    }

    /// A report from its parts.
    public init(
        command: [String], exitStatus: Int, wallSeconds: Double, programCpuSeconds: Double, pagerCpuSeconds: Double,
        configuration: PagerConfiguration, statistics: PagerStatistics, figures: PagerFigures, stdoutSha256: String,
        kernel: KernelSide, tier: TierFigures? = nil
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
        swappedMaxBytes = figures.swappedMaxBytes
        swapIns = statistics.swapIns
        swapOuts = statistics.swapOuts
        p50Us = statistics.p50Us
        p99Us = statistics.p99Us
        self.stdoutSha256 = stdoutSha256
        self.kernel = kernel
        backend = configuration.backend.description + (configuration.writebackPath.map { " writeback:\($0)" } ?? "")
            + (configuration.tier.map { " tier:\($0)" } ?? "")
        codec = configuration.codec.description
        policy = configuration.policy.rawValue
        capMinBytes = figures.capMinBytes == Int.max ? 0 : figures.capMinBytes
        pager = statistics
        self.tier = tier
    }
}
