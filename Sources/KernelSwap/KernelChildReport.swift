import SystemSupport

/// What the kernel-side child measured, sent to the parent as one JSON line on its standard
/// output (``jsonLine`` and ``init(parsing:)``).
///
/// The line is a flat object: `us_per_touch`, `cpu_us_per_touch`, `major_faults`,
/// `touch_seconds`, `fill_seconds`, `zram_orig_data_size`, `zram_compr_data_size`,
/// `zram_mem_used_total` (these three null when not measured), `zram_mm_stat`,
/// `cgroup_peak_bytes` (null when not measured), `unavailable_figures` (name: why), `verified`,
/// `mismatches`, each extra figure as `x_<name>`, and for zswap the members of
/// ``KernelZswapReport``.
public struct KernelChildReport: Sendable, Equatable, Codable {
    /// Wall time of the touch phase per touch, microseconds.
    public var usPerTouch: Double
    /// CPU time of the touch phase per touch, microseconds.
    public var cpuUsPerTouch: Double
    /// ru_majflt over the touch phase.
    public var majorFaults: Int
    /// Touch phase wall time, seconds.
    public var touchSeconds: Double
    /// Fill wall time, seconds.
    public var fillSeconds: Double
    /// zram0's mm_stat orig_data_size right after the touch phase; nil when it was not read
    /// (zswap backing) or could not be (``unavailableFigures`` says why).
    public var zramOrigDataSize: Int?
    /// zram0's mm_stat compr_data_size right after the touch phase, or nil (as above).
    public var zramComprDataSize: Int?
    /// zram0's mm_stat mem_used_total right after the touch phase, or nil (as above).
    public var zramMemUsedTotal: Int?
    /// The mm_stat line as read (empty when it was not read).
    public var zramMMStatLine: String
    /// The most memory the child's cgroup held during the touch phase (memory.max_usage_in_bytes
    /// reset when it started, see ``CgroupPeakWindow``), or nil when it could not be measured
    /// (``unavailableFigures`` says why). On cgroup v1 neither zram's nor zswap's pool is charged
    /// to the cgroup, so the kernel's memory is this plus ``compressedBytes``.
    public var cgroupPeakBytes: Int?
    /// The figures the child could not measure, by JSON name, and why. Such a figure is null in
    /// every report, never a number.
    public var unavailableFigures: [String: String] = [:]
    /// Whether every page matched the model afterwards.
    public var verified: Bool
    /// Pages (or records) that did not.
    public var mismatches: Int
    /// Any extra figures a workload wants to send (demo: bad records, same pages).
    public var extra: [String: Double] = [:]
    /// zswap's figures (zswap backing only; nil for zram): the child sends the pool figures,
    /// ``KernelSwapSession/measure(sizeBytes:limitBytes:backing:executable:arguments:started:restored:)``
    /// adds the vmstat deltas, the compressor and max_pool_percent.
    public var zswap: KernelZswapReport? = nil

    /// A report from figures. A zswap child passes `zswap` (``KernelZswapFigures/read(root:)``
    /// right after its touch phase, and its touch phase's counters when it counted them); a
    /// zram child leaves it nil.
    public init(
        usPerTouch: Double, cpuUsPerTouch: Double, majorFaults: Int, touchSeconds: Double, fillSeconds: Double,
        mmStat: KernelMMStat?, mmStatLine: String, verified: Bool, mismatches: Int, extra: [String: Double] = [:],
        zswap: KernelZswapReport? = nil
    ) {
        self.usPerTouch = usPerTouch
        self.cpuUsPerTouch = cpuUsPerTouch
        self.majorFaults = majorFaults
        self.touchSeconds = touchSeconds
        self.fillSeconds = fillSeconds
        self.zramOrigDataSize = mmStat?.origDataSize
        self.zramComprDataSize = mmStat?.comprDataSize
        self.zramMemUsedTotal = mmStat?.memUsedTotal
        self.zramMMStatLine = mmStatLine
        self.verified = verified
        self.mismatches = mismatches
        self.extra = extra
        self.zswap = zswap
    }

    /// The kernel's compressed memory: zswap's pool (`Zswap:` in /proc/meminfo) or zram0's
    /// mem_used_total; nil when it could not be read.
    public var compressedBytes: Int? { zswap?.poolBytes ?? zramMemUsedTotal }

    /// The kernel's memory for the work: the cgroup's measured peak over the touch phase plus
    /// the compressed memory; nil when either is unavailable.
    public var memoryBytes: Int? {
        guard let cgroupPeakBytes, let compressedBytes else { return nil }
        return cgroupPeakBytes + compressedBytes
    }

    /// Takes zram0's figures from `mmStat`, or records why they are unavailable (they stay nil).
    public mutating func record(zramMMStat mmStat: Result<KernelMMStat, KernelZramError>) {
        switch mmStat {
        case .success(let mm):
            zramOrigDataSize = mm.origDataSize
            zramComprDataSize = mm.comprDataSize
            zramMemUsedTotal = mm.memUsedTotal
            zramMMStatLine = ProcFile.trimmed(mm.line)
        case .failure(let error):
            zramOrigDataSize = nil
            zramComprDataSize = nil
            zramMemUsedTotal = nil
            zramMMStatLine = ""
            unavailableFigures["zram_mm_stat"] = error.description
        }
    }

    /// Takes the cgroup's peak, or records why it is unavailable (it stays nil).
    public mutating func record(cgroupPeak: Result<Int, KernelSwapError>) {
        switch cgroupPeak {
        case .success(let bytes): cgroupPeakBytes = bytes
        case .failure(let error):
            cgroupPeakBytes = nil
            unavailableFigures["cgroup_peak_bytes"] = error.description
        }
    }

    private enum Keys {
        static let fixed: [FlatKey] = [
            "us_per_touch", "cpu_us_per_touch", "major_faults", "touch_seconds", "fill_seconds", "zram_orig_data_size",
            "zram_compr_data_size", "zram_mem_used_total", "zram_mm_stat", "cgroup_peak_bytes", "unavailable_figures",
            "verified", "mismatches",
        ]
        static let extraPrefix = "x_"
    }

    /// The flat object described above.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: FlatKey.self)
        try container.encode(usPerTouch, forKey: "us_per_touch")
        try container.encode(cpuUsPerTouch, forKey: "cpu_us_per_touch")
        try container.encode(majorFaults, forKey: "major_faults")
        try container.encode(touchSeconds, forKey: "touch_seconds")
        try container.encode(fillSeconds, forKey: "fill_seconds")
        try container.encode(zramOrigDataSize, forKey: "zram_orig_data_size")
        try container.encode(zramComprDataSize, forKey: "zram_compr_data_size")
        try container.encode(zramMemUsedTotal, forKey: "zram_mem_used_total")
        try container.encode(zramMMStatLine, forKey: "zram_mm_stat")
        try container.encode(cgroupPeakBytes, forKey: "cgroup_peak_bytes")
        try container.encode(unavailableFigures, forKey: "unavailable_figures")
        try container.encode(verified, forKey: "verified")
        try container.encode(mismatches, forKey: "mismatches")
        for (name, value) in extra { try container.encode(value, forKey: FlatKey(stringValue: Keys.extraPrefix + name)) }
        try zswap?.encode(to: encoder)
    }

    /// Reads the flat object; every fixed member is required, except that the measured figures
    /// (zram's, the cgroup's peak) may be null or absent and `unavailable_figures` absent; `x_`
    /// members and zswap's are optional.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: FlatKey.self)
        usPerTouch = try container.decode(Double.self, forKey: "us_per_touch")
        cpuUsPerTouch = try container.decode(Double.self, forKey: "cpu_us_per_touch")
        majorFaults = try container.decode(Int.self, forKey: "major_faults")
        touchSeconds = try container.decode(Double.self, forKey: "touch_seconds")
        fillSeconds = try container.decode(Double.self, forKey: "fill_seconds")
        zramOrigDataSize = try container.decodeIfPresent(Int.self, forKey: "zram_orig_data_size")
        zramComprDataSize = try container.decodeIfPresent(Int.self, forKey: "zram_compr_data_size")
        zramMemUsedTotal = try container.decodeIfPresent(Int.self, forKey: "zram_mem_used_total")
        zramMMStatLine = try container.decode(String.self, forKey: "zram_mm_stat")
        cgroupPeakBytes = try container.decodeIfPresent(Int.self, forKey: "cgroup_peak_bytes")
        unavailableFigures = try container.decodeIfPresent([String: String].self, forKey: "unavailable_figures") ?? [:]
        verified = try container.decode(Bool.self, forKey: "verified")
        mismatches = try container.decode(Int.self, forKey: "mismatches")
        for key in container.allKeys where key.stringValue.hasPrefix(Keys.extraPrefix) {
            extra[String(key.stringValue.dropFirst(Keys.extraPrefix.count))] = try container.decode(Double.self, forKey: key)
        }
        zswap = KernelZswapReport.isPresent(in: container) ? try KernelZswapReport(from: decoder) : nil
    }
}
