import SystemPackage

/// Runs another program (`posix_spawn`, never a fork of this multithreaded process) and reads
/// its standard output line by line as it comes, with a watchdog for a child that stops
/// talking; its standard error is this process's.
///
/// ```swift
/// let end = try ChildProcess.run("/proc/self/exe", ["soak", "--worker"]) { line in print(line) }
/// if case .signaled(let signal) = end.termination { print("died of signal \(signal)") }
/// ```
///
/// **Ownership.** The pipe's two descriptors are made and closed inside ``run(_:_:environment:silenceTimeoutMilliseconds:onLine:)``
/// (close-on-exec in this process, so no other child inherits them); the child is always
/// waited for before it returns, so no zombie is left.
public enum ChildProcess {
    /// How a child ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        /// It exited with this status.
        case exited(Int32)
        /// A signal ended it.
        case signaled(Int32)

        /// `exit status N` or `signal N`.
        public var description: String {
            switch self {
            case .exited(let code): "exit status \(code)"
            case .signaled(let signal): "signal \(signal)"
            }
        }
    }

    /// What ``run(_:_:environment:silenceTimeoutMilliseconds:onLine:)`` saw.
    public struct Outcome: Sendable, Equatable {
        /// How the child ended.
        public var termination: Termination
        /// Whether this process killed it (SIGKILL) because it printed nothing for longer than
        /// the silence timeout.
        public var killedForSilence: Bool
    }

    /// Starts `executable` with `arguments` and `environment` added to this process's
    /// environment, calls `onLine` with each line of its standard output (without the newline;
    /// a last line without one too), and waits for it. A child silent on standard output for
    /// more than `silenceTimeoutMilliseconds` (when given) is killed with SIGKILL.
    ///
    /// Throws the `Errno` of a pipe or spawn that failed (ENOENT: no such executable); once the
    /// child runs, every outcome is returned.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        silenceTimeoutMilliseconds: Int? = nil, onLine: (String) -> Void
    ) throws(Errno) -> Outcome {
        var ends: [Int32] = [-1, -1]
        _ = try SystemCall.retrying { ends.withUnsafeMutableBufferPointer { pipe($0.baseAddress!) } }
        let (readEnd, writeEnd) = (ends[0], ends[1])
        defer { _ = close(readEnd) }
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
        let pid: pid_t
        do {
            defer { _ = close(writeEnd) }
            pid = try spawn(executable, arguments, environment: environment, standardOutput: writeEnd)
        }
        var killed = false
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var descriptor = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
        reading: while true {
            let ready = poll(&descriptor, 1, Int32(clamping: silenceTimeoutMilliseconds ?? -1))
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            if ready == 0 {
                // Silent for too long: a hang. Kill it; the pipe then reaches end of file.
                kill(pid, SIGKILL)
                killed = true
                while true {
                    let n = chunk.withUnsafeMutableBytes { Platform.read(readEnd, $0.baseAddress, $0.count) }
                    if n > 0 { pending += chunk[..<n]; continue }
                    if n < 0 && errno == EINTR { continue }
                    break reading
                }
            }
            let n = chunk.withUnsafeMutableBytes { Platform.read(readEnd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                break
            }
            if n == 0 { break }
            pending += chunk[..<n]
            while let newline = pending.firstIndex(of: 10) {
                onLine(String(decoding: pending[..<newline], as: UTF8.self))
                pending.removeSubrange(...newline)
            }
        }
        while let newline = pending.firstIndex(of: 10) {
            onLine(String(decoding: pending[..<newline], as: UTF8.self))
            pending.removeSubrange(...newline)
        }
        if !pending.isEmpty { onLine(String(decoding: pending, as: UTF8.self)) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let termination: Termination = status & 0x7F == 0 ? .exited((status >> 8) & 0xFF) : .signaled(status & 0x7F)
        return Outcome(termination: termination, killedForSilence: killed)
    }

    /// Starts `executable` with its standard output on `standardOutput` and every signal at its
    /// default action.
    private static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String], standardOutput: Int32
    ) throws(Errno) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        try SystemCall.check(posix_spawn_file_actions_init(&actions))
        defer { posix_spawn_file_actions_destroy(&actions) }
        try SystemCall.check(posix_spawn_file_actions_adddup2(&actions, standardOutput, STDOUT_FILENO))
        var attributes = posix_spawnattr_t()
        try SystemCall.check(posix_spawnattr_init(&attributes))
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigfillset(&defaults)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        try SystemCall.check(posix_spawnattr_setsigdefault(&attributes, &defaults))
        try SystemCall.check(posix_spawnattr_setsigmask(&attributes, &unblocked))
        try SystemCall.check(posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)))
        var variables: [String] = []
        var index = 0
        while let entry = environ[index] {
            let text = String(cString: entry)
            let name = text.prefix { $0 != "=" }
            if environment[String(name)] == nil { variables.append(text) }
            index += 1
        }
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) { variables.append("\(name)=\(value)") }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        try SystemCall.check(posix_spawn(&pid, executable, &actions, &attributes, argv, envp))
        return pid
    }
}
