import ArgumentParser
import Benchmarks
import KernelSwap

/// `uswap zram`: the kernel's zram devices and their statistics, as zramctl shows them.
///
/// Like `zramctl` without arguments, only initialized devices (disksize not 0) are listed;
/// `--all` lists uninitialized ones too. MOUNTPOINT is `[SWAP]` for a device in /proc/swaps,
/// else its first mount point. STREAMS is `max_comp_streams` on kernels that still have it,
/// else the number of online CPUs (today's zram keeps one stream per CPU).
struct Zram: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zram",
        abstract: "List the kernel's zram devices and their statistics, like zramctl.",
        discussion: """
            Lists initialized devices (disksize not 0) like zramctl; --all adds uninitialized \
            ones. Sizes are human-readable (K, M, G: powers of 1024) unless --bytes is given. \
            Nothing is changed.
            """)

    /// Also list uninitialized devices.
    @Flag(name: .shortAndLong, help: "Also list uninitialized devices (disksize 0).")
    var all = false

    /// Raw byte counts instead of human sizes.
    @Flag(name: .shortAndLong, help: "Print sizes in bytes instead of human-readable sizes.")
    var bytes = false

    /// One JSON object on stdout.
    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    /// Where /sys, /proc and /dev are (tests point this at a fixture tree).
    @Option(help: .hidden)
    var systemRoot = ""

    func run() throws {
        let listing = ZramListing(
            root: SystemRoot(prefix: systemRoot), includeUninitialized: all, onlineCPUs: KernelZram.onlineCPUs())
        print(json ? try JSONOutput.render(listing) : listing.table(bytes: bytes))
    }
}

/// One row of `uswap zram`.
struct ZramDeviceRow: Equatable {
    /// `zram0`.
    var name: String
    /// The selected compression algorithm.
    var algorithm: String
    /// All algorithms the kernel offers for the device.
    var algorithms: [String]
    /// disksize in bytes (0: uninitialized).
    var disksize: Int
    /// The device's mm_stat (zeros when uninitialized; nil when it cannot be read or parsed,
    /// never shown as zeros).
    var mmStat: KernelMMStat?
    /// The device's io_stat (nil when it cannot be read or parsed).
    var ioStat: KernelIOStat?
    /// Compression streams.
    var streams: Int
    /// `[SWAP]`, a mount point, or nil.
    var mountPoint: String?

    /// Whether the device is initialized.
    var initialized: Bool { disksize != 0 }

    /// Reads `device`'s row; nil when its sysfs directory vanished meanwhile.
    init?(device: KernelZramDevice, onlineCPUs: Int) {
        guard let size = try? device.disksize() else { return nil }
        name = device.name
        let parsed = try? device.algorithms()
        algorithm = parsed?.selected ?? "-"
        algorithms = parsed?.available ?? []
        disksize = size
        mmStat = try? device.mmStat()
        ioStat = try? device.ioStat()
        streams = device.streams(onlineCPUs: onlineCPUs)
        mountPoint = device.mountPoint()
    }
}

/// What `uswap zram` shows: the rows, or why there are none.
struct ZramListing {
    /// The devices listed.
    var rows: [ZramDeviceRow]
    /// Every zram device present, listed or not.
    var present: [String]
    /// Whether the zram module is loaded.
    var moduleLoaded: Bool
    /// Whether uninitialized devices are listed.
    var includeUninitialized: Bool

    /// Reads the devices under `root`.
    init(root: SystemRoot, includeUninitialized: Bool, onlineCPUs: Int) {
        let all = KernelZram.devices(root: root).compactMap { ZramDeviceRow(device: $0, onlineCPUs: onlineCPUs) }
        present = all.map(\.name)
        rows = includeUninitialized ? all : all.filter(\.initialized)
        moduleLoaded = KernelZram.moduleLoaded(root: root) || !present.isEmpty
        self.includeUninitialized = includeUninitialized
    }

    /// Why nothing is listed, or nil when something is.
    var emptyReason: String? {
        guard rows.isEmpty else { return nil }
        if !moduleLoaded { return "no zram devices: the zram module is not loaded (modprobe zram as root)" }
        if present.isEmpty {
            return "no zram devices: the zram module is loaded but has none (as root, `cat /sys/class/zram-control/hot_add` adds one)"
        }
        let names = present.joined(separator: ", ")
        return "no initialized zram devices (\(names) \(present.count == 1 ? "is" : "are") present but uninitialized: --all lists \(present.count == 1 ? "it" : "them"))"
    }

    /// The zramctl-style table, or the reason there is none. A figure that could not be read
    /// shows as `?`.
    func table(bytes: Bool) -> String {
        if let emptyReason { return emptyReason }
        let size: (Int?) -> String = { value in value.map { bytes ? String($0) : humanSize($0) } ?? "?" }
        var table = TextTable(
            headers: ["NAME", "ALGORITHM", "DISKSIZE", "DATA", "COMPR", "TOTAL", "STREAMS", "MOUNTPOINT"],
            alignments: [.left, .left, .right, .right, .right, .right, .right, .left])
        for row in rows {
            table.append([
                "/dev/\(row.name)", row.algorithm, size(row.disksize), size(row.mmStat?.origDataSize),
                size(row.mmStat?.comprDataSize), size(row.mmStat?.memUsedTotal), String(row.streams), row.mountPoint ?? "",
            ])
        }
        return table.rendered
    }
}

extension ZramListing: Encodable {
    /// The listing as one JSON object: `devices` (name, path, initialized, algorithm,
    /// algorithms, disksize, data, compr, total, streams, mountpoint, mm_stat, io_stat),
    /// `module_loaded` and, when nothing is listed, `message`.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: JSONKey.self)
        try container.encode(rows, forKey: "devices")
        try container.encode(moduleLoaded, forKey: "module_loaded")
        try container.encodeIfPresent(emptyReason, forKey: "message")
    }
}

extension ZramDeviceRow: Encodable {
    /// One device's entry: its names, sizes (zramctl's DATA, COMPR, TOTAL), streams, mount
    /// point (null when none) and its mm_stat and io_stat by the kernel's field names; the
    /// figures of a file that could not be read are null.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: JSONKey.self)
        try container.encode(name, forKey: "name")
        try container.encode("/dev/\(name)", forKey: "path")
        try container.encode(initialized, forKey: "initialized")
        try container.encode(algorithm, forKey: "algorithm")
        try container.encode(algorithms, forKey: "algorithms")
        try container.encode(disksize, forKey: "disksize")
        try container.encode(Nullable(mmStat?.origDataSize), forKey: "data")
        try container.encode(Nullable(mmStat?.comprDataSize), forKey: "compr")
        try container.encode(Nullable(mmStat?.memUsedTotal), forKey: "total")
        try container.encode(streams, forKey: "streams")
        try container.encode(Nullable(mountPoint), forKey: "mountpoint")
        try container.encode(Nullable(mmStat), forKey: "mm_stat")
        try container.encode(Nullable(ioStat), forKey: "io_stat")
    }
}

/// A size as zramctl prints it (util-linux's one-letter suffixes, powers of 1024): `0B`, `512B`,
/// `4K`, `25.6M`, `1G`; one decimal digit, rounded, shown only when it is not zero.
func humanSize(_ bytes: Int) -> String {
    let letters: [Character] = ["B", "K", "M", "G", "T", "P", "E"]
    let value = UInt64(max(0, bytes))
    var exponent = 0
    while exponent < 60 && value >= (UInt64(1) << UInt64(exponent + 10)) { exponent += 10 }
    var whole = exponent == 0 ? value : value >> UInt64(exponent)
    var tenths: UInt64 = 0
    if exponent > 0 {
        let remainder = value & ((UInt64(1) << UInt64(exponent)) - 1)
        // Three digits after the point, then rounded to one, as util-linux does.
        let thousandths = remainder >= UInt64.max / 1000
            ? (remainder / 1024) * 1000 / (UInt64(1) << UInt64(exponent - 10))
            : remainder * 1000 / (UInt64(1) << UInt64(exponent))
        tenths = (thousandths + 50) / 100
        if tenths == 10 {
            whole += 1
            tenths = 0
        }
    }
    let suffix = letters[exponent / 10]
    return tenths == 0 ? "\(whole)\(suffix)" : "\(whole).\(tenths)\(suffix)"
}
