import CProcessPager
import SystemPackage
import SystemSupport

/// Why a program could not be started.
public enum LaunchError: Error, Equatable, CustomStringConvertible {
    /// No command was given.
    case noCommand
    /// posix_spawn failed (ENOENT: not found on PATH; EACCES: not executable).
    case spawn(command: String, Errno)

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .noCommand: "no command to run: give one after --, e.g. uswap run --resident 256M -- python3 job.py"
        case .spawn(let command, .noSuchFileOrDirectory): "\(command): command not found (check the name and PATH)"
        case .spawn(let command, .permissionDenied): "\(command): permission denied (is it executable?)"
        case .spawn(let command, let errno): "cannot start \(command): \(errno)"
        }
    }
}

/// Starts the program as a direct child (`posix_spawnp`, searching PATH) in the caller's process
/// group, with a given environment, every signal unblocked, and the listed signals at their
/// default action (the caller's handlers are its own).
public enum ProgramLauncher {
    /// Spawns `arguments[0]` with `arguments` and `environment` ("NAME=value" strings); with
    /// `standardOutput`, the child's fd 1 is that descriptor. Returns the child's pid.
    public static func spawn(
        _ arguments: [String], environment: [String], standardOutput: Int32? = nil, defaultSignals: [Int32] = []
    ) throws(LaunchError) -> pid_t {
        guard let command = arguments.first else { throw .noCommand }
        var attributes = posix_spawnattr_t()
        var actions = posix_spawn_file_actions_t()
        posix_spawnattr_init(&attributes)
        posix_spawn_file_actions_init(&actions)
        defer {
            posix_spawnattr_destroy(&attributes)
            posix_spawn_file_actions_destroy(&actions)
        }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in defaultSignals { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        if let standardOutput, standardOutput != 1 {
            posix_spawn_file_actions_adddup2(&actions, standardOutput, 1)
        }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, command, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw .spawn(command: command, Errno(rawValue: rc)) }
        return pid
    }

    /// `environment` (as from `environ`) with `updates` applied: each NAME replaced or added.
    public static func environment(_ base: [String], updating updates: [String: String]) -> [String] {
        var result = base.filter { entry in
            guard let equals = entry.firstIndex(of: "=") else { return true }
            return updates[String(entry[..<equals])] == nil
        }
        for (name, value) in updates.sorted(by: { $0.key < $1.key }) { result.append("\(name)=\(value)") }
        return result
    }

    /// A pidfd for `pid` (pidfd_open), readable once the process has ended; -1 where the kernel
    /// has none.
    public static func processDescriptor(_ pid: pid_t) -> Int32 {
        let fd = uswap_pidfd_open(pid)
        return fd >= 0 ? fd : -1
    }

    /// This process's environment as "NAME=value" strings.
    public static func currentEnvironment() -> [String] {
        var result: [String] = []
        var cursor = environ
        while let entry = cursor.pointee {
            result.append(String(cString: entry))
            cursor += 1
        }
        return result
    }

    /// The value of `name` in an environment list, if present.
    public static func value(of name: String, in environment: [String]) -> String? {
        let prefix = name + "="
        return environment.first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }
}
