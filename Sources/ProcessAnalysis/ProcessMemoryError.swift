import SystemPackage
import SystemSupport

/// What went wrong while reading another process's memory, with what to do about it.
public enum ProcessMemoryError: Error, Equatable, CustomStringConvertible {
    /// There is no process with this id (or it is gone before anything could be read).
    case noSuchProcess(pid: Int32)
    /// The kernel refused access: `operation` is what was refused (`open /proc/PID/maps`,
    /// `process_vm_readv`, ...).
    case permissionDenied(pid: Int32, operation: String)
    /// The process exited while it was being read.
    case processExited(pid: Int32)
    /// Any other system error, with the call that failed and its errno.
    case systemError(pid: Int32, operation: String, errno: Errno)
    /// `/proc/PID/maps` held a line this parser does not understand.
    case malformedMaps(pid: Int32, line: String)

    /// Maps an errno from `operation` on `pid` to the error a user can act on.
    ///
    /// ESRCH and ENOENT mean the process is gone: ``noSuchProcess(pid:)`` before anything was
    /// read, ``processExited(pid:)`` after (`started`). EPERM and EACCES mean ptrace access was
    /// refused.
    public init(errno code: Errno, pid: Int32, operation: String, started: Bool) {
        switch code {
        case .noSuchProcess, .noSuchFileOrDirectory: self = started ? .processExited(pid: pid) : .noSuchProcess(pid: pid)
        case .notPermitted, .permissionDenied: self = .permissionDenied(pid: pid, operation: operation)
        default: self = .systemError(pid: pid, operation: operation, errno: code)
        }
    }

    /// ``init(errno:pid:operation:started:)`` for an error thrown by swift-system's
    /// `FileDescriptor` (an `Errno`; anything else counts as EIO).
    init(_ error: any Error, pid: Int32, operation: String, started: Bool) {
        self.init(errno: error as? Errno ?? .ioError, pid: pid, operation: operation, started: started)
    }

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .noSuchProcess(let pid):
            return "no process with pid \(pid): check the id with `ps -p \(pid)`"
        case .permissionDenied(let pid, let operation):
            return """
                permission denied reading process \(pid) (\(operation)): reading another process's memory \
                needs ptrace access to it: run as the same user as the process, with \
                kernel.yama.ptrace_scope 0 (\(ptraceScopeDescription)), or as root / with CAP_SYS_PTRACE \
                (e.g. `sudo uswap analyze --pid \(pid)`). The process is never attached or stopped.
                """
        case .processExited(let pid):
            return "process \(pid) exited while it was being read"
        case .systemError(let pid, let operation, let code):
            return "\(operation) for process \(pid) failed: \(code) (errno \(code.rawValue))"
        case .malformedMaps(let pid, let line):
            return "cannot parse a line of /proc/\(pid)/maps: \"\(line)\"; please report this"
        }
    }

    /// The current `kernel.yama.ptrace_scope`, said in words.
    private var ptraceScopeDescription: String {
        guard let text = try? ProcFile.readValue("/proc/sys/kernel/yama/ptrace_scope"), let scope = Int(text)
        else { return "Yama is not active on this kernel" }
        switch scope {
        case 0: return "it is 0 here"
        case 1: return "it is 1 here: only a parent may read its descendants unless it is root"
        case 2: return "it is 2 here: only root / CAP_SYS_PTRACE may read"
        default: return "it is \(scope) here: no process may read another"
        }
    }
}
