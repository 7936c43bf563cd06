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
    /// The lowest cap the resident pages had (the limit minus charged unmanaged memory).
    public var capMinBytes: Int
    /// The pager's counters at the end.
    public var pager: PagerStatistics

    /// The kernel's side of a comparison run.
    public struct KernelSide: Codable, Sendable, Equatable {
        /// Why there is no kernel run.
        public var unavailable: String?
        /// A side that is not there, and why.
        public init(unavailable: String) { self.unavailable = unavailable }
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
        p50Us = statistics.p50Us
        p99Us = statistics.p99Us
        self.stdoutSha256 = stdoutSha256
        self.kernel = kernel
        backend = configuration.backend.description + (configuration.writebackPath.map { " writeback:\($0)" } ?? "")
        codec = configuration.codec.description
        policy = configuration.policy.rawValue
        capMinBytes = figures.capMinBytes == Int.max ? 0 : figures.capMinBytes
        pager = statistics
    }
}
