import SystemPackage
import SystemSupport

// The child of a session: a separate program started with posix_spawn (never a fork of this
// process, whose threads would be lost in the copy), its standard output captured through a
// pipe, its standard error shared, and its signal dispositions back to the defaults.

extension KernelSwapSession {
    /// Runs `executable` with `arguments`, its stdout captured, its stderr shared; kills it if
    /// the process is interrupted. The child is expected to join ``cgroup`` as its first act.
    /// - Returns: the child's standard output.
    /// - Throws: ``KernelSwapError/failed(_:)`` when it cannot start, is killed by a signal, or
    ///   exits with a status other than 0 or 1 (1: it ran but did not verify).
    public func runChild(executable: String, arguments: [String]) throws(KernelSwapError) -> String {
        let ends: (readEnd: FileDescriptor, writeEnd: FileDescriptor)
        do { ends = try FileDescriptor.pipe() } catch { throw .failed("pipe: \(error)") }
        let pid: pid_t
        do {
            defer { try? ends.writeEnd.close() }
            pid = try Self.spawn(executable, arguments, standardOutput: ends.writeEnd, closing: ends.readEnd)
        } catch {
            try? ends.readEnd.close()
            throw .failed("starting \(executable): \(error)")
        }
        child.withLock { $0 = pid }
        let killToken = registry.register("child \(pid)") { [self] in
            let running = child.withLock { $0 }
            if running != 0 {
                kill(running, SIGKILL)
                var status: Int32 = 0
                _ = try? SystemCall.retrying { waitpid(running, &status, 0) }
            }
        }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while let n = try? chunk.withUnsafeMutableBytes({ try ends.readEnd.read(into: $0) }), n > 0 {
            output += chunk[..<n]
        }
        try? ends.readEnd.close()
        var status: Int32 = 0
        let waited = try? SystemCall.retrying { waitpid(pid, &status, 0) }
        child.withLock { $0 = 0 }
        registry.cancel(killToken)
        guard waited == pid else { throw .failed("the kernel-side child \(pid) was lost (interrupted?)") }
        let exited = status & 0x7F == 0
        let code = (status >> 8) & 0xFF
        guard exited else { throw .failed("the kernel-side child was killed by signal \(status & 0x7F)") }
        guard code == 0 || code == 1 else {
            throw .failed("the kernel-side child exited with status \(code)")
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Starts `executable` with its standard output on `standardOutput`, `readEnd` closed in
    /// the child, and SIGINT, SIGTERM and SIGHUP at their default actions: the parent's
    /// cleanup handles them here, the child must not inherit that.
    private static func spawn(
        _ executable: String, _ arguments: [String], standardOutput: FileDescriptor, closing readEnd: FileDescriptor
    ) throws(Errno) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        try SystemCall.check(posix_spawn_file_actions_init(&actions))
        defer { posix_spawn_file_actions_destroy(&actions) }
        try SystemCall.check(posix_spawn_file_actions_adddup2(&actions, standardOutput.rawValue, STDOUT_FILENO))
        try SystemCall.check(posix_spawn_file_actions_addclose(&actions, readEnd.rawValue))
        var attributes = posix_spawnattr_t()
        try SystemCall.check(posix_spawnattr_init(&attributes))
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signalNumber in SignalCleanup.signals { sigaddset(&defaults, signalNumber) }
        try SystemCall.check(posix_spawnattr_setsigdefault(&attributes, &defaults))
        try SystemCall.check(posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF)))
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        try SystemCall.check(posix_spawn(&pid, executable, &actions, &attributes, argv, environ))
        return pid
    }
}
