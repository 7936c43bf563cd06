/// What the kernel-side child measured, sent to the parent as one JSON line on its standard
/// output (``jsonLine`` and ``init(parsing:)``).
///
/// The line is a flat object: `us_per_touch`, `cpu_us_per_touch`, `major_faults`,
/// `touch_seconds`, `fill_seconds`, `zram_orig_data_size`, `zram_compr_data_size`,
/// `zram_mem_used_total`, `zram_mm_stat`, `verified`, `mismatches`, each extra figure as
/// `x_<name>`, and for zswap the members of ``KernelZswapReport``.
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
    /// zram0's mm_stat orig_data_size right after the touch phase.
    public var zramOrigDataSize: Int
    /// zram0's mm_stat compr_data_size right after the touch phase.
    public var zramComprDataSize: Int
    /// zram0's mm_stat mem_used_total right after the touch phase.
    public var zramMemUsedTotal: Int
    /// The mm_stat line as read.
    public var zramMMStatLine: String
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
        self.zramOrigDataSize = mmStat?.origDataSize ?? 0
        self.zramComprDataSize = mmStat?.comprDataSize ?? 0
        self.zramMemUsedTotal = mmStat?.memUsedTotal ?? 0
        self.zramMMStatLine = mmStatLine
        self.verified = verified
        self.mismatches = mismatches
        self.extra = extra
        self.zswap = zswap
    }

    /// The kernel's compressed memory: zswap's pool (`Zswap:` in /proc/meminfo) or zram0's
    /// mem_used_total.
    public var compressedBytes: Int { zswap?.poolBytes ?? zramMemUsedTotal }

    private enum Keys {
        static let fixed: [FlatKey] = [
            "us_per_touch", "cpu_us_per_touch", "major_faults", "touch_seconds", "fill_seconds", "zram_orig_data_size",
            "zram_compr_data_size", "zram_mem_used_total", "zram_mm_stat", "verified", "mismatches",
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
        try container.encode(verified, forKey: "verified")
        try container.encode(mismatches, forKey: "mismatches")
        for (name, value) in extra { try container.encode(value, forKey: FlatKey(stringValue: Keys.extraPrefix + name)) }
        try zswap?.encode(to: encoder)
    }

    /// Reads the flat object; every fixed member is required, `x_` members and zswap's are
    /// optional.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: FlatKey.self)
        usPerTouch = try container.decode(Double.self, forKey: "us_per_touch")
        cpuUsPerTouch = try container.decode(Double.self, forKey: "cpu_us_per_touch")
        majorFaults = try container.decode(Int.self, forKey: "major_faults")
        touchSeconds = try container.decode(Double.self, forKey: "touch_seconds")
        fillSeconds = try container.decode(Double.self, forKey: "fill_seconds")
        zramOrigDataSize = try container.decode(Int.self, forKey: "zram_orig_data_size")
        zramComprDataSize = try container.decode(Int.self, forKey: "zram_compr_data_size")
        zramMemUsedTotal = try container.decode(Int.self, forKey: "zram_mem_used_total")
        zramMMStatLine = try container.decode(String.self, forKey: "zram_mm_stat")
        verified = try container.decode(Bool.self, forKey: "verified")
        mismatches = try container.decode(Int.self, forKey: "mismatches")
        for key in container.allKeys where key.stringValue.hasPrefix(Keys.extraPrefix) {
            extra[String(key.stringValue.dropFirst(Keys.extraPrefix.count))] = try container.decode(Double.self, forKey: key)
        }
        zswap = KernelZswapReport.isPresent(in: container) ? try KernelZswapReport(from: decoder) : nil
    }
}
