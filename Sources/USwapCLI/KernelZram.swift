#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

// Control of the kernel's zram devices (/dev/zramN) through sysfs: discovery, the "unused"
// decision, configuration (comp_algorithm, disksize), statistics, reset, and a session that puts
// a device back as it found it, also on SIGINT/SIGTERM (through ``SignalCleanup``).
//
// The sysfs rules this code keeps (drivers/block/zram/zram_drv.c):
// - comp_algorithm (and algorithm_params) can be written only while the device is uninitialized
//   (disksize 0); writing disksize initializes the device.
// - reset fails with EBUSY while anyone holds the block device open.
// - reset returns comp_algorithm to the kernel's default, so a restore writes it back.

/// Where the kernel's files are: the live system (`""`), or a fixture tree in tests whose
/// layout mirrors `/sys/block`, `/sys/class/zram-control`, `/proc/swaps`, `/proc/mounts`, `/dev`.
struct SystemRoot: Sendable, Equatable {
    /// Prefix put before every absolute path; empty for the live system.
    var prefix: String

    /// The live system.
    static let live = SystemRoot(prefix: "")

    /// `absolutePath` under this root.
    func path(_ absolutePath: String) -> String { prefix + absolutePath }
}

/// What went wrong with a kernel zram device, and what to do.
enum KernelZramError: Error, Equatable, CustomStringConvertible {
    /// The kernel's zram cannot be used here at all (not root, no device, module not loaded).
    case unavailable(String)
    /// The device is in use by someone else; it was not touched.
    case inUse(device: String, reasons: [String])
    /// The kernel does not offer the requested compression algorithm.
    case unsupportedAlgorithm(device: String, requested: String, available: [String])
    /// A sysfs or proc file could not be read or written.
    case sysfs(path: String, operation: String, errno: Int32)
    /// A sysfs file held text this code does not understand.
    case malformed(path: String, text: String)
    /// The device could not be put back as it was found.
    case restoreFailed(device: String, reason: String)

    var description: String {
        switch self {
        case .unavailable(let reason): reason
        case .inUse(let device, let reasons):
            "\(device) is in use: \(reasons.joined(separator: ", ")); it was left alone"
        case .unsupportedAlgorithm(let device, let requested, let available):
            "\(device) has no \(requested) (available: \(available.joined(separator: " ")))"
        case .sysfs(let path, let operation, let code):
            "cannot \(operation) \(path): \(String(cString: strerror(code))) (errno \(code))"
        case .malformed(let path, let text):
            "unexpected contents in \(path): \(text.debugDescription)"
        case .restoreFailed(let device, let reason):
            "could not restore \(device): \(reason); check it with `cat /sys/block/\(device)/disksize` and reset it with `echo 1 > /sys/block/\(device)/reset`"
        }
    }
}

/// The kernel's `mm_stat` line as named fields (bytes for the size fields, pages for the rest).
struct KernelMMStat: Sendable, Equatable {
    /// The field names, in the kernel's order.
    static let fieldNames = [
        "orig_data_size", "compr_data_size", "mem_used_total", "mem_limit", "mem_used_max",
        "same_pages", "pages_compacted", "huge_pages", "huge_pages_since",
    ]

    var origDataSize = 0
    var comprDataSize = 0
    var memUsedTotal = 0
    var memLimit = 0
    var memUsedMax = 0
    var samePages = 0
    var pagesCompacted = 0
    var hugePages = 0
    var hugePagesSince = 0

    /// All zero.
    init() {}

    /// The fields in the kernel's order.
    init(values: [Int]) {
        let v = values + Array(repeating: 0, count: max(0, 9 - values.count))
        (origDataSize, comprDataSize, memUsedTotal, memLimit, memUsedMax) = (v[0], v[1], v[2], v[3], v[4])
        (samePages, pagesCompacted, hugePages, hugePagesSince) = (v[5], v[6], v[7], v[8])
    }

    /// Parses the kernel's line. Older kernels print 7 or 8 fields (no huge_pages,
    /// huge_pages_since); the missing ones read 0.
    init(line: String, path: String = "mm_stat") throws(KernelZramError) {
        guard let values = parseCounters(line), (7...9).contains(values.count) else {
            throw .malformed(path: path, text: line)
        }
        self.init(values: values)
    }

    /// The fields in the kernel's order.
    var values: [Int] {
        [origDataSize, comprDataSize, memUsedTotal, memLimit, memUsedMax, samePages, pagesCompacted, hugePages, hugePagesSince]
    }

    /// (name, value) pairs in the kernel's order.
    var namedFields: [(name: String, value: Int)] {
        Array(zip(Self.fieldNames, values)).map { (name: $0.0, value: $0.1) }
    }

    /// The line as the kernel prints it: every field right-aligned in 8 columns.
    var line: String {
        values.map { pad($0, 8) }.joined(separator: " ")
    }
}

/// The kernel's `io_stat` line: failed_reads failed_writes invalid_io notify_free
/// (invalid_io has read 0 since the kernel stopped counting it).
struct KernelIOStat: Sendable, Equatable {
    /// The field names, in the kernel's order.
    static let fieldNames = ["failed_reads", "failed_writes", "invalid_io", "notify_free"]

    var failedReads = 0
    var failedWrites = 0
    var invalidIO = 0
    var notifyFree = 0

    /// All zero.
    init() {}

    /// Parses the kernel's line (4 fields).
    init(line: String, path: String = "io_stat") throws(KernelZramError) {
        guard let v = parseCounters(line), v.count == 4 else { throw .malformed(path: path, text: line) }
        (failedReads, failedWrites, invalidIO, notifyFree) = (v[0], v[1], v[2], v[3])
    }

    /// The fields in the kernel's order.
    var values: [Int] { [failedReads, failedWrites, invalidIO, notifyFree] }
}

/// Whitespace-separated non-negative counters, or nil if any token is not one.
private func parseCounters(_ line: String) -> [Int]? {
    var values: [Int] = []
    for token in line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
        guard let value = Int(token), value >= 0 else { return nil }
        values.append(value)
    }
    return values.isEmpty ? nil : values
}

/// `value` right-aligned in `width` columns, like printf's `%8llu`.
private func pad(_ value: Int, _ width: Int) -> String {
    let text = String(value)
    return String(repeating: " ", count: max(0, width - text.count)) + text
}

/// The "is this device in use?" decision, from the texts of /proc/swaps and /proc/mounts.
enum ZramUsage {
    /// Whether `devicePath` (`/dev/zram0`) is an active swap area in `procSwaps`.
    static func isSwap(_ devicePath: String, procSwaps: String) -> Bool {
        procSwaps.split(separator: "\n").dropFirst().contains { line in
            line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true).first
                .map { unescapeMountField(String($0)) == devicePath } ?? false
        }
    }

    /// The mount points of `devicePath` in `procMounts` (octal escapes such as `\040` decoded).
    static func mountPoints(of devicePath: String, procMounts: String) -> [String] {
        procMounts.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, unescapeMountField(String(fields[0])) == devicePath else { return nil }
            return unescapeMountField(String(fields[1]))
        }
    }

    /// Why device `name` is in use (empty: it is unused): initialized (disksize not 0), swap,
    /// mounted, or held by another block device (`holders/`).
    static func inUseReasons(
        name: String, disksize: Int, procSwaps: String, procMounts: String, holders: [String] = []
    ) -> [String] {
        let devicePath = "/dev/\(name)"
        var reasons: [String] = []
        if disksize != 0 { reasons.append("initialized (disksize \(disksize))") }
        if isSwap(devicePath, procSwaps: procSwaps) { reasons.append("swap in /proc/swaps") }
        for point in mountPoints(of: devicePath, procMounts: procMounts) {
            reasons.append("mounted on \(point)")
        }
        if !holders.isEmpty { reasons.append("held by \(holders.joined(separator: " "))") }
        return reasons
    }

    /// Decodes the kernel's `\ooo` octal escapes in /proc/mounts and /proc/swaps fields.
    static func unescapeMountField(_ field: String) -> String {
        guard field.contains("\\") else { return field }
        var bytes: [UInt8] = []
        let raw = Array(field.utf8)
        var i = 0
        while i < raw.count {
            if raw[i] == UInt8(ascii: "\\"), i + 3 < raw.count, let code = octal(raw[(i + 1)...(i + 3)]) {
                bytes.append(code)
                i += 4
            } else {
                bytes.append(raw[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func octal(_ digits: ArraySlice<UInt8>) -> UInt8? {
        guard digits.count == 3 else { return nil }
        var value = 0
        for d in digits {
            guard d >= UInt8(ascii: "0"), d <= UInt8(ascii: "7") else { return nil }
            value = value * 8 + Int(d - UInt8(ascii: "0"))
        }
        return value <= 255 ? UInt8(value) : nil
    }
}

/// Reads and writes small sysfs/proc text files.
enum SysfsFile {
    /// The whole contents of `path`.
    static func read(_ path: String) throws(KernelZramError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .sysfs(path: path, operation: "read", errno: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .sysfs(path: path, operation: "read", errno: errno)
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The contents of `path` without surrounding whitespace, or nil when it cannot be read.
    static func readTrimmed(_ path: String) -> String? {
        (try? read(path)).map(trimmed)
    }

    /// Writes `value` and a newline to `path` in one write, as `echo value > path` does.
    static func write(_ value: String, to path: String) throws(KernelZramError) {
        let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { throw .sysfs(path: path, operation: "open for writing", errno: errno) }
        defer { close(fd) }
        let text = value + "\n"
        let written = text.withCString { pointer in
            var result: Int
            repeat { result = Glibc.write(fd, pointer, strlen(pointer)) } while result < 0 && errno == EINTR
            return result
        }
        if written < 0 { throw .sysfs(path: path, operation: "write \(value.debugDescription) to", errno: errno) }
    }

    /// Whether `path` exists.
    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// The names in directory `path`, sorted; empty when it cannot be read.
    static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

private func trimmed(_ text: String) -> String {
    var s = Substring(text)
    while let c = s.first, c.isWhitespace { s.removeFirst() }
    while let c = s.last, c.isWhitespace { s.removeLast() }
    return String(s)
}

/// One kernel zram device, seen through sysfs. Reading never changes anything; the writing
/// methods are used only by ``KernelZramSession``, which checked the device is unused.
struct KernelZramDevice: Sendable, Equatable {
    /// `zram0`, ...
    let name: String
    /// Where sysfs and /dev are.
    let root: SystemRoot

    /// The device's sysfs directory.
    var directory: String { root.path("/sys/block/\(name)") }
    /// The block device node.
    var devicePath: String { root.path("/dev/\(name)") }

    /// The path of sysfs attribute `attribute`.
    func attributePath(_ attribute: String) -> String { "\(directory)/\(attribute)" }

    /// The trimmed text of `attribute`.
    func read(_ attribute: String) throws(KernelZramError) -> String {
        trimmed(try SysfsFile.read(attributePath(attribute)))
    }

    /// Writes `value` to `attribute`.
    func write(_ value: String, to attribute: String) throws(KernelZramError) {
        try SysfsFile.write(value, to: attributePath(attribute))
    }

    /// The disksize in bytes (0: uninitialized).
    func disksize() throws(KernelZramError) -> Int {
        let text = try read("disksize")
        guard let value = Int(text), value >= 0 else { throw .malformed(path: attributePath("disksize"), text: text) }
        return value
    }

    /// The selected algorithm (the one in brackets) and all offered, from `comp_algorithm`.
    func algorithms() throws(KernelZramError) -> (selected: String, available: [String]) {
        let text = try read("comp_algorithm")
        guard let parsed = Self.parseAlgorithms(text) else {
            throw .malformed(path: attributePath("comp_algorithm"), text: text)
        }
        return parsed
    }

    /// Parses `comp_algorithm` text such as `lzo-rle lzo [lz4] zstd`.
    static func parseAlgorithms(_ text: String) -> (selected: String, available: [String])? {
        var selected: String?
        var available: [String] = []
        for token in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }) {
            if token.hasPrefix("[") && token.hasSuffix("]") && token.count > 2 {
                let name = String(token.dropFirst().dropLast())
                selected = name
                available.append(name)
            } else {
                available.append(String(token))
            }
        }
        guard let selected else { return nil }
        return (selected, available)
    }

    /// The device's mm_stat.
    func mmStat() throws(KernelZramError) -> KernelMMStat {
        try KernelMMStat(line: read("mm_stat"), path: attributePath("mm_stat"))
    }

    /// The device's io_stat.
    func ioStat() throws(KernelZramError) -> KernelIOStat {
        try KernelIOStat(line: read("io_stat"), path: attributePath("io_stat"))
    }

    /// `max_comp_streams` where the kernel still has it, else `onlineCPUs` (per-CPU streams).
    func streams(onlineCPUs: Int) -> Int {
        SysfsFile.readTrimmed(attributePath("max_comp_streams")).flatMap { Int($0) } ?? onlineCPUs
    }

    /// The block devices holding this one (device-mapper, md), from `holders/`.
    func holders() -> [String] { SysfsFile.list(attributePath("holders")) }

    /// Why the device is in use (empty: unused), reading disksize, holders, /proc/swaps and
    /// /proc/mounts under ``root``.
    func inUseReasons() throws(KernelZramError) -> [String] {
        let swaps = (try? SysfsFile.read(root.path("/proc/swaps"))) ?? ""
        let mounts = (try? SysfsFile.read(root.path("/proc/mounts"))) ?? ""
        return ZramUsage.inUseReasons(
            name: name, disksize: try disksize(), procSwaps: swaps, procMounts: mounts, holders: holders())
    }

    /// Where the device is used: `[SWAP]` when it is swap, else its first mount point, else nil.
    func mountPoint() -> String? {
        let swaps = (try? SysfsFile.read(root.path("/proc/swaps"))) ?? ""
        if ZramUsage.isSwap("/dev/\(name)", procSwaps: swaps) { return "[SWAP]" }
        let mounts = (try? SysfsFile.read(root.path("/proc/mounts"))) ?? ""
        return ZramUsage.mountPoints(of: "/dev/\(name)", procMounts: mounts).first
    }
}

/// Discovery of the kernel's zram devices.
enum KernelZram {
    /// The zram devices under `root`'s /sys/block, in numeric order (`zram2` before `zram10`).
    static func devices(root: SystemRoot = .live) -> [KernelZramDevice] {
        SysfsFile.list(root.path("/sys/block"))
            .compactMap { name -> (Int, String)? in
                guard name.hasPrefix("zram"), let n = Int(name.dropFirst(4)), n >= 0 else { return nil }
                return (n, name)
            }
            .sorted { $0.0 < $1.0 }
            .map { KernelZramDevice(name: $0.1, root: root) }
    }

    /// Whether the zram module is loaded (or built in): /sys/class/zram-control or /sys/module/zram.
    static func moduleLoaded(root: SystemRoot = .live) -> Bool {
        SysfsFile.exists(root.path("/sys/class/zram-control")) || SysfsFile.exists(root.path("/sys/module/zram"))
    }

    /// The number of online CPUs.
    static func onlineCPUs() -> Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// The disksize the kernel benchmark gives a device for `byteCount` bytes: 1 GiB, like
    /// kzram.sh, or the size rounded up to 1 MiB when larger.
    static func benchmarkDisksize(for byteCount: Int) -> Int {
        let mib = 1 << 20
        return max(1 << 30, (byteCount + mib - 1) / mib * mib)
    }
}

/// Exclusive use of one unused kernel zram device, and the promise to put it back.
///
/// ``acquire(_:root:isRoot:registry:)`` checks the device can be used (root, present, unused),
/// records what it found (comp_algorithm) and registers a restore action in the cleanup
/// registry, so the device is put back on SIGINT/SIGTERM/exit too. ``restore()`` runs that action
/// on the normal path. Restoring closes the block device if a benchmark still holds it open
/// (the descriptor is pointed at /dev/null so no one writes through a reused number), resets the
/// device (retrying while the kernel reports it busy) and writes the original algorithm back.
final class KernelZramSession: Sendable {
    /// The device.
    let device: KernelZramDevice
    /// comp_algorithm as found.
    let originalAlgorithm: String
    /// The algorithms the kernel offers.
    let availableAlgorithms: [String]

    private let registry: CleanupRegistry
    private let token: Mutex<CleanupToken?> = Mutex(nil)
    /// The block device currently open through this session, if any.
    private let openDevice = Mutex<DirectIODevice?>(nil)
    /// What the last restore found wrong (set by the restore action, read by ``restore()``).
    private let restoreError = Mutex<KernelZramError?>(nil)

    private init(device: KernelZramDevice, originalAlgorithm: String, availableAlgorithms: [String], registry: CleanupRegistry) {
        self.device = device
        self.originalAlgorithm = originalAlgorithm
        self.availableAlgorithms = availableAlgorithms
        self.registry = registry
    }

    /// Takes device `name` if it can be used, and registers its restore.
    ///
    /// - Throws: ``KernelZramError/unavailable(_:)`` when not root, the module is not loaded or
    ///   the device does not exist; ``KernelZramError/inUse(device:reasons:)`` when it is in use
    ///   (then nothing was changed).
    static func acquire(
        _ name: String = "zram0", root: SystemRoot = .live, isRoot: Bool = geteuid() == 0,
        registry: CleanupRegistry = SignalCleanup.shared
    ) throws(KernelZramError) -> KernelZramSession {
        guard isRoot else { throw .unavailable("not root: configuring /dev/\(name) needs root") }
        let device = KernelZramDevice(name: name, root: root)
        guard SysfsFile.exists(device.directory) else {
            if KernelZram.moduleLoaded(root: root) {
                throw .unavailable("no /dev/\(name): the zram module is loaded but has no such device (as root, `cat /sys/class/zram-control/hot_add` adds one)")
            }
            throw .unavailable("no /dev/\(name): the zram module is not loaded (modprobe zram as root)")
        }
        guard SysfsFile.exists(device.devicePath) else {
            throw .unavailable("\(device.devicePath) does not exist although \(device.directory) does")
        }
        guard access(device.attributePath("reset"), W_OK) == 0 else {
            throw .unavailable("\(device.attributePath("reset")) is not writable")
        }
        let reasons = try device.inUseReasons()
        guard reasons.isEmpty else { throw .inUse(device: name, reasons: reasons) }
        let algorithms = try device.algorithms()
        let session = KernelZramSession(
            device: device, originalAlgorithm: algorithms.selected, availableAlgorithms: algorithms.available,
            registry: registry)
        let token = registry.register("\(name) (reset, comp_algorithm \(algorithms.selected))") { [session] in
            session.restoreNow()
        }
        session.token.withLock { $0 = token }
        return session
    }

    /// Resets the device and initializes it with `algorithm` and `disksize` bytes.
    /// `parameters` (such as `level=3`) go to algorithm_params when given.
    func configure(algorithm: String, parameters: String? = nil, disksize: Int) throws(KernelZramError) {
        guard availableAlgorithms.contains(algorithm) else {
            throw .unsupportedAlgorithm(device: device.name, requested: algorithm, available: availableAlgorithms)
        }
        try resetRetryingWhileBusy()
        try device.write(algorithm, to: "comp_algorithm")
        if let parameters { try device.write("algo=\(algorithm) \(parameters)", to: "algorithm_params") }
        try device.write(String(disksize), to: "disksize")
    }

    /// Opens the block device for direct I/O; the session closes it on restore if the caller
    /// has not.
    func openBlockDevice(chunkSize: Int = 1 << 20) throws(DirectIOError) -> DirectIODevice {
        let opened = try DirectIODevice(path: device.devicePath, chunkSize: chunkSize)
        openDevice.withLock { $0 = opened }
        return opened
    }

    /// Closes a device opened with ``openBlockDevice(chunkSize:)``.
    func closeBlockDevice(_ opened: DirectIODevice) {
        openDevice.withLock { current in
            opened.close()
            if current === opened { current = nil }
        }
    }

    /// Puts the device back as found (reset, original algorithm) and drops the registration.
    /// Safe to call more than once; only the first call does anything.
    func restore() throws(KernelZramError) {
        guard let token = self.token.withLock({ $0 }) else { return }
        registry.run(token)
        if let error = restoreError.withLock({ $0 }) { throw error }
    }

    /// The restore action itself (also run from the signal path).
    private func restoreNow() {
        openDevice.withLock { current in
            current?.detachToDevNull()
            current = nil
        }
        do throws(KernelZramError) {
            try resetRetryingWhileBusy()
            if (try? device.algorithms().selected) != originalAlgorithm {
                try device.write(originalAlgorithm, to: "comp_algorithm")
            }
            let size = try device.disksize()
            if size != 0 { throw .restoreFailed(device: device.name, reason: "disksize is \(size) after reset") }
        } catch .restoreFailed(let name, let reason) {
            restoreError.withLock { $0 = .restoreFailed(device: name, reason: reason) }
        } catch {
            restoreError.withLock { $0 = .restoreFailed(device: device.name, reason: error.description) }
        }
    }

    /// Writes reset, retrying for up to 5 s while the kernel says the device is busy (a direct
    /// write in flight still holds it open).
    private func resetRetryingWhileBusy() throws(KernelZramError) {
        var attempts = 0
        while true {
            do {
                try device.write("1", to: "reset")
                return
            } catch {
                guard case .sysfs(_, _, let code) = error, code == EBUSY, attempts < 500 else { throw error }
                attempts += 1
                usleep(10_000)
            }
        }
    }
}
