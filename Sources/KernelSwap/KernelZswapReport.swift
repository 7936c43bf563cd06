/// The kernel's zswap figures of one run: what the child read after its touch phase, what the
/// parent counted around the child, and how zswap was set up.
///
/// Its coded form is a set of members of the enclosing object (the child's report, the `kernel`
/// object of `bench swap --json`): `zswap_pool_bytes`, `zswapped_bytes`, `zswap_compressor`,
/// `zswap_compressor_note`, `zswap_max_pool_percent`, the counters of the whole run
/// (`zswap_stores`, ..., `swap_file_writes`) and of the touch phase (`zswap_touch_stores`, ...).
public struct KernelZswapReport: Sendable, Equatable, Codable {
    /// `Zswap:` after the touch phase, bytes (read by the child).
    public var poolBytes: Int
    /// `Zswapped:` after the touch phase, bytes (read by the child).
    public var storedBytes: Int
    /// zswap and swap-file events over the whole child: fill, touches and verification (the
    /// parent's vmstat deltas; zero until the parent fills them in).
    public var counters = KernelZswapCounters()
    /// zswap and swap-file events of the touch phase alone (the child's vmstat deltas around
    /// its touches, comparable with a touch-phase figure of the user-space side), or nil when
    /// the child did not count them.
    public var touchCounters: KernelZswapCounters? = nil
    /// The compressor zswap used (empty until the parent fills it in).
    public var compressor = ""
    /// Why the compressor is not the user-space side's lz4, or empty when it is.
    public var compressorNote = ""
    /// max_pool_percent during the run (0 until the parent fills it in).
    public var maxPoolPercent = 0

    /// What the child knows: the pool figures after its touch phase, and (when it read
    /// ``KernelZswapCounters/read(root:)`` before and after the touches) the touch phase's events.
    public init(figures: KernelZswapFigures, touchCounters: KernelZswapCounters? = nil) {
        poolBytes = figures.poolBytes
        storedBytes = figures.storedBytes
        self.touchCounters = touchCounters
    }

    /// Pages written back to the swap file during the run (`zswpwb` delta).
    public var writtenBackPages: Int { counters.writtenBack }

    /// The members the report adds to an object.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: FlatKey.self)
        try container.encode(poolBytes, forKey: "zswap_pool_bytes")
        try container.encode(storedBytes, forKey: "zswapped_bytes")
        try container.encode(compressor, forKey: "zswap_compressor")
        try container.encode(compressorNote, forKey: "zswap_compressor_note")
        try container.encode(maxPoolPercent, forKey: "zswap_max_pool_percent")
        try counters.encode(into: &container, phase: "")
        try touchCounters?.encode(into: &container, phase: "touch_")
    }

    /// Reads the members ``encode(to:)`` writes; `zswap_pool_bytes` and `zswapped_bytes` are
    /// required, the members the parent adds may be missing.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: FlatKey.self)
        poolBytes = try container.decode(Int.self, forKey: "zswap_pool_bytes")
        storedBytes = try container.decode(Int.self, forKey: "zswapped_bytes")
        counters = try KernelZswapCounters.decode(from: container, phase: "") ?? KernelZswapCounters()
        touchCounters = try KernelZswapCounters.decode(from: container, phase: "touch_")
        compressor = try container.decodeIfPresent(String.self, forKey: "zswap_compressor") ?? ""
        compressorNote = try container.decodeIfPresent(String.self, forKey: "zswap_compressor_note") ?? ""
        maxPoolPercent = try container.decodeIfPresent(Int.self, forKey: "zswap_max_pool_percent") ?? 0
    }

    /// Whether a decoder's object holds a zswap report (a zram child's does not).
    static func isPresent(in container: KeyedDecodingContainer<FlatKey>) -> Bool {
        container.contains("zswap_pool_bytes") && container.contains("zswapped_bytes")
    }

    /// One line for the text report, e.g. "zswap: compressor lzo (lz4 is not in this kernel's
    /// crypto API), max_pool_percent 20, pool 10.2 MiB holding 40.0 MiB, 1200 stores, 900 loads,
    /// 0 pages written back, 0 swap-file reads".
    public var summaryLine: String {
        let note = compressorNote.isEmpty ? "" : " (\(compressorNote))"
        return "zswap: compressor \(compressor)\(note), max_pool_percent \(maxPoolPercent), "
            + "pool \(Self.mib(poolBytes)) holding \(Self.mib(storedBytes)), \(counters.stores) stores, \(counters.loads) loads, "
            + "\(counters.writtenBack) pages written back, \(counters.deviceReads) swap-file reads"
    }

    /// `bytes` as MiB with one decimal (`10.2 MiB`).
    static func mib(_ bytes: Int) -> String {
        let tenths = (Double(bytes) / 104_857.6).rounded()
        return "\(Int(tenths) / 10).\(abs(Int(tenths)) % 10) MiB"
    }
}
