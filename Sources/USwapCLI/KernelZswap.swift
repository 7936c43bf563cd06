#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The zswap side of `uswap bench swap --vs-kernel --backend zswap:FILE`: the kernel's zswap in
// front of a fresh swap file (twice the region, in /var/tmp) as the only swap, page-cluster 0,
// the same memory cgroup as the zram side, done the way ../shared/tools/kzswap.sh does it in
// bash. The session itself is ``KernelSwapSession`` with ``KernelSwapBacking/zswap(maxPoolPercent:)``;
// this file holds the pieces only zswap needs: its parameters, the swap file, the /proc figures
// (meminfo's Zswap/Zswapped, vmstat's zswpin/zswpout/zswpwb/pswpin/pswpout) and the report.

/// What the kernel side swaps to.
enum KernelSwapBacking: Sendable, Equatable, CustomStringConvertible {
    /// zram0 (lz4) as the only swap (the default, as kswap.sh).
    case zram
    /// The kernel's zswap in front of a fresh swap file as the only swap, as kzswap.sh:
    /// zswap enabled with `max_pool_percent` set to `maxPoolPercent` (1...100, percent of RAM).
    case zswap(maxPoolPercent: Int)

    /// "zram" or "zswap (max_pool_percent N)".
    var description: String {
        switch self {
        case .zram: "zram"
        case .zswap(let percent): "zswap (max_pool_percent \(percent))"
        }
    }
}

extension KernelSwapBacking {
    /// The smallest max_pool_percent whose pool limit holds `bytes` on a machine with
    /// `memTotalBytes` of RAM (zswap's limit is total RAM x percent / 100), within 1...100:
    /// how a pool limit given in bytes becomes the kernel's knob.
    static func zswapPoolPercent(holding bytes: Int, memTotalBytes: Int) -> Int {
        guard memTotalBytes > 0 else { return 100 }
        let percent = (max(bytes, 0) * 100 + memTotalBytes - 1) / memTotalBytes
        return min(max(percent, 1), 100)
    }

    /// ``zswapPoolPercent(holding:memTotalBytes:)`` with MemTotal from /proc/meminfo under `root`.
    static func zswapPoolPercent(holding bytes: Int, root: SystemRoot = .live) throws(KernelSwapError) -> Int {
        let path = root.path("/proc/meminfo")
        let text: String
        do { text = try SysfsFile.read(path) } catch { throw .failed(error.description) }
        guard let total = KernelProcText.meminfo(text)["MemTotal"] else { throw .failed("\(path) has no MemTotal line") }
        return zswapPoolPercent(holding: bytes, memTotalBytes: total)
    }
}

// MARK: - zswap's module parameters

/// zswap's module parameters in `/sys/module/zswap/parameters` (under a ``SystemRoot``).
/// Reading changes nothing; ``KernelSwapSession`` writes them and registers their undo.
struct ZswapParameters: Sendable, Equatable {
    /// Every parameter the session reads, remembers and checks after a restore.
    static let names = ["enabled", "compressor", "max_pool_percent", "accept_threshold_percent", "shrinker_enabled"]
    /// The compressor the user-space side uses, chosen for zswap when the kernel offers it.
    static let preferredCompressor = "lz4"

    /// Where the files are.
    let root: SystemRoot

    /// The parameters directory.
    var directory: String { root.path("/sys/module/zswap/parameters") }

    /// The file of parameter `name`.
    func path(_ name: String) -> String { "\(directory)/\(name)" }

    /// Parameter `name`, trimmed.
    func read(_ name: String) throws(KernelSwapError) -> String {
        guard let value = SysfsFile.readTrimmed(path(name)) else {
            throw .failed("cannot read zswap's \(name) (\(path(name))): \(errnoText())")
        }
        return value
    }

    /// Writes `value` to parameter `name` (as `echo value > file`).
    func write(_ value: String, to name: String) throws(KernelSwapError) {
        do {
            try SysfsFile.write(value, to: path(name))
        } catch {
            throw .failed("setting zswap's \(name) to \(value): \(error.description)")
        }
    }

    /// Every parameter of ``names`` that can be read, by name.
    func snapshot() -> [String: String] {
        var values: [String: String] = [:]
        for name in Self.names { values[name] = SysfsFile.readTrimmed(path(name)) }
        return values
    }

    /// The names of the algorithms the kernel's crypto API has loaded (`name : X` lines of
    /// /proc/crypto); zswap can only use one of them (this kernel has no modules to load more).
    static func cryptoAlgorithms(_ text: String) -> Set<String> {
        var names = Set<String>()
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingWhitespace() == "name" else { continue }
            names.insert(String(parts[1].trimmingWhitespace()))
        }
        return names
    }

    /// Why zswap cannot be driven here (nil: it can), without changing anything: zswap missing,
    /// a parameter unreadable or not writable, its compressor not in the crypto API.
    func unavailableReason() -> String? {
        guard SysfsFile.exists(directory) else {
            return "no zswap in this kernel (\(directory) is missing: CONFIG_ZSWAP is off)"
        }
        for name in ["enabled", "compressor", "max_pool_percent"] {
            guard SysfsFile.readTrimmed(path(name)) != nil else { return "zswap's \(name) cannot be read (\(path(name)))" }
            guard access(path(name), W_OK) == 0 else { return "zswap's \(name) is not settable (\(path(name)) is not writable)" }
        }
        let compressor = SysfsFile.readTrimmed(path("compressor")) ?? ""
        if let crypto = try? SysfsFile.read(root.path("/proc/crypto")), !Self.cryptoAlgorithms(crypto).contains(compressor) {
            return "zswap's compressor \(compressor) is not in the kernel's crypto API (/proc/crypto): zswap could not be enabled"
        }
        return nil
    }
}

extension Substring {
    /// The text without leading and trailing whitespace.
    fileprivate func trimmingWhitespace() -> Substring {
        var s = self
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return s
    }
}

// MARK: - The swap file

/// A fresh swap file: created exclusively (mode 0600), its blocks allocated (swapon refuses
/// files with holes), a swap header written. Removing it is the caller's undo.
enum SwapFile {
    /// Where the kernel side puts its swap file (a disk, unlike /tmp on many systems).
    static let defaultDirectory = "/var/tmp"

    /// A unique path in `directory`: `uswap-kzswap-<pid>-<random>.swap`.
    static func uniquePath(in directory: String, pid: Int32 = getpid()) -> String {
        var generator = SystemRandomNumberGenerator()
        let tag = String(UInt32.random(in: 0...UInt32.max, using: &generator), radix: 16)
        let trimmed = directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
        return "\(trimmed)/uswap-kzswap-\(pid)-\(tag).swap"
    }

    /// Why `directory` cannot hold `bytes` more (nil: it can).
    static func spaceProblem(directory: String, bytes: Int) -> String? {
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { return "cannot inspect \(directory) for the swap file: \(errnoText())" }
        guard access(directory, W_OK) == 0 else { return "\(directory) is not writable (the swap file goes there)" }
        let free = Int(info.f_bavail) &* Int(info.f_frsize)
        // Keep a margin of 64 MiB so the swap file never fills the disk.
        guard free >= bytes + (64 << 20) else {
            return "\(directory) has \(free >> 20) MiB free, the swap file needs \(bytes >> 20) MiB (+64 MiB margin)"
        }
        return nil
    }

    /// Creates the file at `path` (must not exist), mode 0600.
    static func create(_ path: String) throws(KernelSwapError) {
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .failed("create the swap file \(path): \(errnoText())") }
        defer { close(fd) }
        guard fchmod(fd, 0o600) == 0 else { throw .failed("chmod 0600 \(path): \(errnoText())") }
    }

    /// Allocates `bytes` of real blocks for the file at `path` and writes the swap header.
    static func prepare(_ path: String, bytes: Int) throws(KernelSwapError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .failed("open the swap file \(path): \(errnoText())") }
        let rc = posix_fallocate(fd, 0, off_t(bytes))
        close(fd)
        guard rc == 0 else {
            throw .failed("allocate \(bytes) bytes for the swap file \(path): \(String(cString: strerror(rc)))")
        }
        try SwapHeader.write(to: path, totalBytes: bytes)
    }

    /// Removes the file; nothing to do when it is already gone.
    static func remove(_ path: String) throws(KernelSwapError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw .restoreFailed("rm \(path): \(errnoText())") }
    }
}

// MARK: - /proc figures

/// Readers for the "name value" files of /proc the zswap side needs.
enum KernelProcText {
    /// /proc/meminfo as bytes by name (`Zswap:   1234 kB` gives `"Zswap": 1263616`); fields
    /// without a kB unit (HugePages_Total...) keep their number. Lines it cannot read are skipped.
    static func meminfo(_ text: String) -> [String: Int] {
        var fields: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard tokens.count >= 2, tokens[0].hasSuffix(":"), let value = Int(tokens[1]) else { continue }
            let scale = tokens.count >= 3 && tokens[2] == "kB" ? 1024 : 1
            fields[String(tokens[0].dropLast())] = value &* scale
        }
        return fields
    }

    /// /proc/vmstat as counters by name (`zswpwb 8670`). Lines it cannot read are skipped.
    static func vmstat(_ text: String) -> [String: Int] {
        var fields: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard tokens.count == 2, let value = Int(tokens[1]) else { continue }
            fields[String(tokens[0])] = value
        }
        return fields
    }
}

/// What zswap holds right now, from /proc/meminfo: the kernel child reads it right after its
/// touch phase (as the zram child reads zram0's mm_stat).
struct KernelZswapFigures: Sendable, Equatable {
    /// `Zswap:` memory the compressed pool takes, bytes.
    var poolBytes: Int
    /// `Zswapped:` uncompressed size of the pages zswap holds, bytes.
    var storedBytes: Int

    /// The figures in /proc/meminfo's text, or nil when it lacks Zswap or Zswapped (a kernel
    /// without zswap).
    static func parse(meminfo text: String) -> KernelZswapFigures? {
        let fields = KernelProcText.meminfo(text)
        guard let pool = fields["Zswap"], let stored = fields["Zswapped"] else { return nil }
        return KernelZswapFigures(poolBytes: pool, storedBytes: stored)
    }

    /// Reads /proc/meminfo under `root`.
    static func read(root: SystemRoot = .live) throws(KernelSwapError) -> KernelZswapFigures {
        let path = root.path("/proc/meminfo")
        let text: String
        do { text = try SysfsFile.read(path) } catch { throw .failed(error.description) }
        guard let figures = parse(meminfo: text) else {
            throw .failed("\(path) has no Zswap/Zswapped lines: this kernel does not report zswap")
        }
        return figures
    }
}

/// zswap's and the swap layer's event counters from /proc/vmstat (system-wide; with our swap
/// file as the only swap, the deltas around the child are its).
struct KernelZswapCounters: Sendable, Equatable {
    /// `zswpout`: pages stored into zswap.
    var stores = 0
    /// `zswpin`: pages loaded from zswap.
    var loads = 0
    /// `zswpwb`: pages zswap wrote back to the swap file.
    var writtenBack = 0
    /// `pswpin`: pages read from the swap device (the file).
    var deviceReads = 0
    /// `pswpout`: pages written to the swap device (writeback and pages zswap rejected).
    var deviceWrites = 0

    /// The counters in /proc/vmstat's text, or nil when zswap's are missing.
    static func parse(vmstat text: String) -> KernelZswapCounters? {
        let fields = KernelProcText.vmstat(text)
        guard let stores = fields["zswpout"], let loads = fields["zswpin"], let written = fields["zswpwb"] else { return nil }
        return KernelZswapCounters(
            stores: stores, loads: loads, writtenBack: written, deviceReads: fields["pswpin"] ?? 0,
            deviceWrites: fields["pswpout"] ?? 0)
    }

    /// Reads /proc/vmstat under `root`.
    static func read(root: SystemRoot = .live) throws(KernelSwapError) -> KernelZswapCounters {
        let path = root.path("/proc/vmstat")
        let text: String
        do { text = try SysfsFile.read(path) } catch { throw .failed(error.description) }
        guard let counters = parse(vmstat: text) else {
            throw .failed("\(path) has no zswpout/zswpin/zswpwb counters: this kernel does not count zswap events")
        }
        return counters
    }

    /// What happened between `earlier` and these counters.
    func since(_ earlier: KernelZswapCounters) -> KernelZswapCounters {
        KernelZswapCounters(
            stores: stores - earlier.stores, loads: loads - earlier.loads, writtenBack: writtenBack - earlier.writtenBack,
            deviceReads: deviceReads - earlier.deviceReads, deviceWrites: deviceWrites - earlier.deviceWrites)
    }
}

/// The kernel's zswap figures of one run: what the child read after its touch phase, what the
/// parent counted around the child, and how zswap was set up.
struct KernelZswapReport: Sendable, Equatable {
    /// `Zswap:` after the touch phase, bytes (read by the child).
    var poolBytes: Int
    /// `Zswapped:` after the touch phase, bytes (read by the child).
    var storedBytes: Int
    /// zswap and swap-file events over the whole child: fill, touches and verification (the
    /// parent's vmstat deltas; zero until the parent fills them in).
    var counters = KernelZswapCounters()
    /// zswap and swap-file events of the touch phase alone (the child's vmstat deltas around
    /// its touches, comparable with a touch-phase figure of the user-space side), or nil when
    /// the child did not count them.
    var touchCounters: KernelZswapCounters? = nil
    /// The compressor zswap used (empty until the parent fills it in).
    var compressor = ""
    /// Why the compressor is not the user-space side's lz4, or empty when it is.
    var compressorNote = ""
    /// max_pool_percent during the run (0 until the parent fills it in).
    var maxPoolPercent = 0

    /// What the child knows: the pool figures after its touch phase, and (when it read
    /// ``KernelZswapCounters/read(root:)`` before and after the touches) the touch phase's events.
    init(figures: KernelZswapFigures, touchCounters: KernelZswapCounters?) {
        poolBytes = figures.poolBytes
        storedBytes = figures.storedBytes
        self.touchCounters = touchCounters
    }

    /// What the child knows when it did not count its touch phase: the pool figures.
    init(figures: KernelZswapFigures) {
        self.init(figures: figures, touchCounters: nil)
    }

    /// Pages written back to the swap file during the run (`zswpwb` delta).
    var writtenBackPages: Int { counters.writtenBack }

    /// The members this report adds to a JSON object (the child's line and a bench report).
    var jsonMembers: [String: JSONValue] {
        var members: [String: JSONValue] = [
            "zswap_pool_bytes": .int(poolBytes), "zswapped_bytes": .int(storedBytes),
            "zswap_compressor": .string(compressor), "zswap_compressor_note": .string(compressorNote),
            "zswap_max_pool_percent": .int(maxPoolPercent),
        ]
        members.merge(Self.members(counters, phase: "")) { _, new in new }
        if let touchCounters { members.merge(Self.members(touchCounters, phase: "touch_")) { _, new in new } }
        return members
    }

    /// The counters' JSON keys: `zswap_<phase>stores`, `zswap_<phase>loads`,
    /// `zswap_<phase>written_back_pages`, `swap_file_<phase>reads`, `swap_file_<phase>writes`.
    private static func keys(phase: String) -> [String] {
        [
            "zswap_\(phase)stores", "zswap_\(phase)loads", "zswap_\(phase)written_back_pages", "swap_file_\(phase)reads",
            "swap_file_\(phase)writes",
        ]
    }

    private static func members(_ c: KernelZswapCounters, phase: String) -> [String: JSONValue] {
        let values = [c.stores, c.loads, c.writtenBack, c.deviceReads, c.deviceWrites]
        return Dictionary(uniqueKeysWithValues: zip(keys(phase: phase), values.map(JSONValue.int)))
    }

    /// Reads the members ``jsonMembers`` writes; nil when `zswap_pool_bytes` or
    /// `zswapped_bytes` is missing (a zram child). Members the parent adds may be missing.
    init?(fields: [String: FlatJSON.Value]) {
        func int(_ key: String) -> Int? {
            if case .number(let value)? = fields[key] { return Int(value) }
            return nil
        }
        func string(_ key: String) -> String {
            if case .string(let value)? = fields[key] { return value }
            return ""
        }
        func counters(phase: String) -> KernelZswapCounters? {
            let values = Self.keys(phase: phase).map(int)
            guard values.contains(where: { $0 != nil }) else { return nil }
            let v = values.map { $0 ?? 0 }
            return KernelZswapCounters(stores: v[0], loads: v[1], writtenBack: v[2], deviceReads: v[3], deviceWrites: v[4])
        }
        guard let pool = int("zswap_pool_bytes"), let stored = int("zswapped_bytes") else { return nil }
        self.init(figures: KernelZswapFigures(poolBytes: pool, storedBytes: stored), touchCounters: counters(phase: "touch_"))
        self.counters = counters(phase: "") ?? KernelZswapCounters()
        compressor = string("zswap_compressor")
        compressorNote = string("zswap_compressor_note")
        maxPoolPercent = int("zswap_max_pool_percent") ?? 0
    }

    /// One line for the text report, e.g. "zswap: compressor lzo (lz4 is not in this kernel's
    /// crypto API), max_pool_percent 20, pool 10.2 MiB holding 40.0 MiB, 1200 stores, 900 loads,
    /// 0 pages written back, 0 swap-file reads".
    var summaryLine: String {
        let note = compressorNote.isEmpty ? "" : " (\(compressorNote))"
        return "zswap: compressor \(compressor)\(note), max_pool_percent \(maxPoolPercent), "
            + "pool \(mib(poolBytes)) holding \(mib(storedBytes)), \(counters.stores) stores, \(counters.loads) loads, "
            + "\(counters.writtenBack) pages written back, \(counters.deviceReads) swap-file reads"
    }
}

/// How the session set zswap up, and what it found (to put back).
struct KernelZswapSetup: Sendable, Equatable {
    /// The swap file (in /var/tmp unless the session was given another directory).
    let swapFilePath: String
    /// Its size: twice the region, as kzswap.sh.
    let swapFileBytes: Int
    /// The compressor zswap uses during the run.
    let compressor: String
    /// Why it is not lz4, or empty when it is.
    let compressorNote: String
    /// max_pool_percent during the run.
    let maxPoolPercent: Int
    /// Every parameter of ``ZswapParameters/names`` as found.
    let original: [String: String]
}
