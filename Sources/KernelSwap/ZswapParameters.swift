import SystemSupport

/// zswap's module parameters in `/sys/module/zswap/parameters` (under a ``SystemRoot``).
/// Reading changes nothing; ``KernelSwapSession`` writes them and registers their undo.
public struct ZswapParameters: Sendable, Equatable {
    /// Every parameter the session reads, remembers and checks after a restore.
    public static let names = ["enabled", "compressor", "max_pool_percent", "accept_threshold_percent", "shrinker_enabled"]
    /// The compressor the user-space side uses, chosen for zswap when the kernel offers it.
    public static let preferredCompressor = "lz4"

    /// Where the files are.
    public let root: SystemRoot

    /// zswap's parameters under `root`.
    public init(root: SystemRoot = .live) { self.root = root }

    /// The parameters directory.
    public var directory: String { root.path("/sys/module/zswap/parameters") }

    /// The file of parameter `name`.
    public func path(_ name: String) -> String { "\(directory)/\(name)" }

    /// Parameter `name`, trimmed.
    public func read(_ name: String) throws(KernelSwapError) -> String {
        do { return try ProcFile.readValue(path(name)) } catch {
            throw .failed("cannot read zswap's \(name) (\(path(name))): \(error)")
        }
    }

    /// Writes `value` to parameter `name` (as `echo value > file`).
    public func write(_ value: String, to name: String) throws(KernelSwapError) {
        do {
            try Sysfs.write(value, to: path(name))
        } catch {
            throw .failed("setting zswap's \(name) to \(value): \(error.description)")
        }
    }

    /// Every parameter of ``names`` that can be read, by name.
    public func snapshot() -> [String: String] {
        var values: [String: String] = [:]
        for name in Self.names { values[name] = Sysfs.readValue(path(name)) }
        return values
    }

    /// The names of the algorithms the kernel's crypto API has loaded (`name : X` lines of
    /// /proc/crypto); zswap can only use one of them (this kernel has no modules to load more).
    public static func cryptoAlgorithms(_ text: String) -> Set<String> {
        var names = Set<String>()
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, ProcFile.trimmed(parts[0]) == "name" else { continue }
            names.insert(ProcFile.trimmed(parts[1]))
        }
        return names
    }

    /// Why zswap cannot be driven here (nil: it can), without changing anything: zswap missing,
    /// a parameter unreadable or not writable, its compressor not in the crypto API.
    public func unavailableReason() -> String? {
        guard Sysfs.exists(directory) else {
            return "no zswap in this kernel (\(directory) is missing: CONFIG_ZSWAP is off)"
        }
        for name in ["enabled", "compressor", "max_pool_percent"] {
            guard Sysfs.readValue(path(name)) != nil else { return "zswap's \(name) cannot be read (\(path(name)))" }
            guard Sysfs.isWritable(path(name)) else { return "zswap's \(name) is not settable (\(path(name)) is not writable)" }
        }
        let compressor = Sysfs.readValue(path("compressor")) ?? ""
        if let crypto = try? ProcFile.read(root.path("/proc/crypto")), !Self.cryptoAlgorithms(crypto).contains(compressor) {
            return "zswap's compressor \(compressor) is not in the kernel's crypto API (/proc/crypto): zswap could not be enabled"
        }
        return nil
    }
}
