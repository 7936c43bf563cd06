import SystemPackage
import SystemSupport

/// One memory cgroup of the cgroup v1 memory controller: `<root>/<name>`.
///
/// `root` is injectable so tests can exercise the path logic in a temporary directory.
public struct MemoryCgroup: Sendable, Equatable {
    /// Where the v1 memory controller is mounted on a live machine.
    public static let defaultRoot = "/sys/fs/cgroup/memory"

    /// The controller's mount point.
    public let root: String
    /// The cgroup's directory name (one path component).
    public let name: String

    /// The benchmark's cgroup name for process `pid`: `uswap-bench-<pid>`.
    public static func benchName(pid: Int32) -> String { "uswap-bench-\(pid)" }

    /// A cgroup `name` under `root`; `name` must be a single, ordinary path component.
    public init(root: String = MemoryCgroup.defaultRoot, name: String) throws(KernelSwapError) {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.contains("\0") else {
            throw .failed("cgroup name \"\(name)\" is not a single path component")
        }
        var trimmedRoot = root
        while trimmedRoot.count > 1 && trimmedRoot.hasSuffix("/") { trimmedRoot.removeLast() }
        self.root = trimmedRoot
        self.name = name
    }

    /// The cgroup whose directory is `path` (`/sys/fs/cgroup/memory/uswap-bench-42`).
    public init(path: String) throws(KernelSwapError) {
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        guard let name = components.last else { throw .failed("cgroup path \"\(path)\" has no name") }
        try self.init(root: "/" + components.dropLast().joined(separator: "/"), name: String(name))
    }

    /// The cgroup's directory.
    public var path: String { root == "/" ? "/\(name)" : "\(root)/\(name)" }
    /// The file a process id is written to, to move that process in.
    public var procsPath: String { "\(path)/cgroup.procs" }
    /// The file holding the memory limit.
    public var limitPath: String { "\(path)/memory.limit_in_bytes" }

    /// Why `root` is not a usable v1 memory controller, or nil when it is.
    public static func unavailableReason(root: String = MemoryCgroup.defaultRoot) -> String? {
        guard Sysfs.exists(root) else {
            return "no cgroup v1 memory controller at \(root) (this needs the v1 hierarchy mounted)"
        }
        guard Sysfs.exists("\(root)/memory.limit_in_bytes"), Sysfs.exists("\(root)/cgroup.procs") else {
            return "\(root) is not a cgroup v1 memory controller (no memory.limit_in_bytes or cgroup.procs)"
        }
        guard Sysfs.isWritable(root) else { return "\(root) is not writable (needs root)" }
        return nil
    }

    /// Whether the directory exists.
    public var exists: Bool { Sysfs.exists(path) }

    /// Creates the cgroup and sets its limit to `limitBytes`; removes it again if the limit
    /// cannot be set.
    public func create(limitBytes: Int) throws(KernelSwapError) {
        guard limitBytes > 0 else { throw .failed("a cgroup limit must be positive, got \(limitBytes)") }
        do { _ = try SystemCall.retrying { mkdir(path, 0o755) } } catch { throw .failed("mkdir \(path): \(error)") }
        do {
            try writeValue(String(limitBytes), to: limitPath)
        } catch {
            _ = rmdir(path)
            throw error
        }
    }

    /// Moves process `pid` into the cgroup.
    public func join(pid: Int32) throws(KernelSwapError) {
        try writeValue(String(pid), to: procsPath)
    }

    /// Removes the (empty) cgroup, retrying for up to 2 s while the kernel still counts an
    /// exiting task in it. Nothing to do when it is already gone.
    public func remove() throws(KernelSwapError) {
        var attempts = 0
        while exists {
            do {
                _ = try SystemCall.retrying { rmdir(path) }
                return
            } catch .noSuchFileOrDirectory {
                return
            } catch {
                guard error == .resourceBusy, attempts < 200 else { throw .restoreFailed("rmdir \(path): \(error)") }
            }
            attempts += 1
            sleepMicroseconds(10_000)
        }
    }
}

/// Writes `value` and a newline to `path` (a cgroup, procfs or sysfs knob), as `echo` does.
func writeValue(_ value: String, to path: String) throws(KernelSwapError) {
    do { try ProcFile.write(value + "\n", to: path) } catch { throw .failed("write \"\(value)\" to \(path): \(error)") }
}
