import SystemSupport

/// zswap's and the swap layer's event counters from /proc/vmstat (system-wide; with our swap
/// file as the only swap, the deltas around the child are its).
public struct KernelZswapCounters: Sendable, Equatable {
    /// `zswpout`: pages stored into zswap.
    public var stores = 0
    /// `zswpin`: pages loaded from zswap.
    public var loads = 0
    /// `zswpwb`: pages zswap wrote back to the swap file.
    public var writtenBack = 0
    /// `pswpin`: pages read from the swap device (the file).
    public var deviceReads = 0
    /// `pswpout`: pages written to the swap device (writeback and pages zswap rejected).
    public var deviceWrites = 0

    /// Counters from their values (all zero by default).
    public init(stores: Int = 0, loads: Int = 0, writtenBack: Int = 0, deviceReads: Int = 0, deviceWrites: Int = 0) {
        self.stores = stores
        self.loads = loads
        self.writtenBack = writtenBack
        self.deviceReads = deviceReads
        self.deviceWrites = deviceWrites
    }

    /// /proc/vmstat's text as counters by name (`zswpwb 8670`); lines it cannot read are skipped.
    static func vmstat(_ text: String) -> [String: Int] {
        var fields: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard tokens.count == 2, let value = Int(tokens[1]) else { continue }
            fields[String(tokens[0])] = value
        }
        return fields
    }

    /// The counters in /proc/vmstat's text, or nil when zswap's are missing.
    public static func parse(vmstat text: String) -> KernelZswapCounters? {
        let fields = vmstat(text)
        guard let stores = fields["zswpout"], let loads = fields["zswpin"], let written = fields["zswpwb"] else { return nil }
        return KernelZswapCounters(
            stores: stores, loads: loads, writtenBack: written, deviceReads: fields["pswpin"] ?? 0,
            deviceWrites: fields["pswpout"] ?? 0)
    }

    /// Reads /proc/vmstat under `root`.
    public static func read(root: SystemRoot = .live) throws(KernelSwapError) -> KernelZswapCounters {
        try root.readProc("/proc/vmstat", missing: "has no zswpout/zswpin/zswpwb counters: this kernel does not count zswap events") {
            parse(vmstat: $0)
        }
    }

    /// What happened between `earlier` and these counters.
    public func since(_ earlier: KernelZswapCounters) -> KernelZswapCounters {
        KernelZswapCounters(
            stores: stores - earlier.stores, loads: loads - earlier.loads, writtenBack: writtenBack - earlier.writtenBack,
            deviceReads: deviceReads - earlier.deviceReads, deviceWrites: deviceWrites - earlier.deviceWrites)
    }

    /// The coding keys of one phase's counters: `zswap_<phase>stores`, `zswap_<phase>loads`,
    /// `zswap_<phase>written_back_pages`, `swap_file_<phase>reads`, `swap_file_<phase>writes`.
    static func keys(phase: String) -> [FlatKey] {
        [
            "zswap_\(phase)stores", "zswap_\(phase)loads", "zswap_\(phase)written_back_pages", "swap_file_\(phase)reads",
            "swap_file_\(phase)writes",
        ].map(FlatKey.init(stringValue:))
    }

    /// Encodes the counters under ``keys(phase:)``.
    func encode(into container: inout KeyedEncodingContainer<FlatKey>, phase: String) throws {
        for (key, value) in zip(Self.keys(phase: phase), [stores, loads, writtenBack, deviceReads, deviceWrites]) {
            try container.encode(value, forKey: key)
        }
    }

    /// The counters under ``keys(phase:)``, nil when none is there; a missing one reads 0.
    static func decode(from container: KeyedDecodingContainer<FlatKey>, phase: String) throws -> KernelZswapCounters? {
        let values = try keys(phase: phase).map { try container.decodeIfPresent(Int.self, forKey: $0) }
        guard values.contains(where: { $0 != nil }) else { return nil }
        let v = values.map { $0 ?? 0 }
        return KernelZswapCounters(stores: v[0], loads: v[1], writtenBack: v[2], deviceReads: v[3], deviceWrites: v[4])
    }
}

/// A coding key for the flat objects of the kernel child's report, whose member names are
/// built at run time (`x_<name>`, `zswap_touch_stores`).
struct FlatKey: CodingKey, Hashable {
    let stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension FlatKey: ExpressibleByStringLiteral {
    init(stringLiteral value: String) { self.init(stringValue: value) }
}
