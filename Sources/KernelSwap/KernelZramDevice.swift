import SystemSupport

/// One kernel zram device, seen through sysfs. Reading never changes anything; the writing
/// methods are used only by ``KernelZramSession``, which checked the device is unused.
public struct KernelZramDevice: Sendable, Equatable {
    /// `zram0`, ...
    public let name: String
    /// Where sysfs and /dev are.
    public let root: SystemRoot

    /// The device's sysfs directory.
    public var directory: String { root.path("/sys/block/\(name)") }
    /// Device `name` (`zram0`) under `root`.
    public init(name: String, root: SystemRoot = .live) {
        self.name = name
        self.root = root
    }

    /// The block device node.
    public var devicePath: String { root.path("/dev/\(name)") }

    /// The path of sysfs attribute `attribute`.
    public func attributePath(_ attribute: String) -> String { "\(directory)/\(attribute)" }

    /// The trimmed text of `attribute`.
    public func read(_ attribute: String) throws(KernelZramError) -> String {
        ProcFile.trimmed(try Sysfs.read(attributePath(attribute)))
    }

    /// Writes `value` to `attribute`.
    public func write(_ value: String, to attribute: String) throws(KernelZramError) {
        try Sysfs.write(value, to: attributePath(attribute))
    }

    /// The disksize in bytes (0: uninitialized).
    public func disksize() throws(KernelZramError) -> Int {
        let text = try read("disksize")
        guard let value = Int(text), value >= 0 else { throw .malformed(path: attributePath("disksize"), text: text) }
        return value
    }

    /// The selected algorithm (the one in brackets) and all offered, from `comp_algorithm`.
    public func algorithms() throws(KernelZramError) -> (selected: String, available: [String]) {
        let text = try read("comp_algorithm")
        guard let parsed = Self.parseAlgorithms(text) else {
            throw .malformed(path: attributePath("comp_algorithm"), text: text)
        }
        return parsed
    }

    /// Parses `comp_algorithm` text such as `lzo-rle lzo [lz4] zstd`.
    public static func parseAlgorithms(_ text: String) -> (selected: String, available: [String])? {
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
    public func mmStat() throws(KernelZramError) -> KernelMMStat {
        try KernelMMStat(line: read("mm_stat"), path: attributePath("mm_stat"))
    }

    /// The device's io_stat.
    public func ioStat() throws(KernelZramError) -> KernelIOStat {
        try KernelIOStat(line: read("io_stat"), path: attributePath("io_stat"))
    }

    /// `max_comp_streams` where the kernel still has it, else `onlineCPUs` (per-CPU streams).
    public func streams(onlineCPUs: Int) -> Int {
        Sysfs.readValue(attributePath("max_comp_streams")).flatMap { Int($0) } ?? onlineCPUs
    }

    /// The block devices holding this one (device-mapper, md), from `holders/`.
    public func holders() -> [String] { Sysfs.list(attributePath("holders")) }

    /// Why the device is in use (empty: unused), reading disksize, holders, /proc/swaps and
    /// /proc/mounts under ``root``.
    public func inUseReasons() throws(KernelZramError) -> [String] {
        let swaps = (try? ProcFile.read(root.path("/proc/swaps"))) ?? ""
        let mounts = (try? ProcFile.read(root.path("/proc/mounts"))) ?? ""
        return ZramUsage.inUseReasons(
            name: name, disksize: try disksize(), procSwaps: swaps, procMounts: mounts, holders: holders())
    }

    /// Where the device is used: `[SWAP]` when it is swap, else its first mount point, else nil.
    public func mountPoint() -> String? {
        let swaps = (try? ProcFile.read(root.path("/proc/swaps"))) ?? ""
        if ZramUsage.isSwap("/dev/\(name)", procSwaps: swaps) { return "[SWAP]" }
        let mounts = (try? ProcFile.read(root.path("/proc/mounts"))) ?? ""
        return ZramUsage.mountPoints(of: "/dev/\(name)", procMounts: mounts).first
    }
}
