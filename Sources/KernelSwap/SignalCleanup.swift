import Synchronization
import SystemPackage
import SystemSupport

/// The write end of the pipe the signal handler writes signal numbers to (-1: not installed).
/// A global atomic, so the handler reads it without locks or allocation.
private let signalPipeWriteEnd = Atomic<Int32>(-1)

/// The process-wide cleanup registry and the signal handling that runs it.
///
/// Call ``installHandlers()`` once before changing the machine, then register undo actions on
/// ``shared``. The handler installed for SIGINT, SIGTERM and SIGHUP (with `sigaction`) only
/// writes the signal number to a pipe, which is async-signal-safe; a dedicated thread reads the
/// pipe and runs the registered actions there, where ordinary I/O is allowed. Then it restores
/// the signal's default action and raises the signal again, so the process ends with the status
/// a shell expects (130 for Ctrl-C, 143 for TERM). At a normal `exit` the remaining actions run
/// from an `atexit` hook. A signal that was ignored when the process started (`nohup`, or SIGINT
/// for a background job of a non-interactive shell) stays ignored: it cannot interrupt anything.
///
/// Manual check of the signal path (the test suite never forks): as root, with zram0 unused,
/// `set -m; uswap bench device --corpus F --vs-kernel --runs 20 & sleep 3; kill -INT %1; wait %1`
/// (repeat with `-TERM`) while the kernel runs; then `echo $?` shows 130 (143),
/// stderr says `uswap: interrupted; restored: zram0 ...`, and
/// `cat /sys/block/zram0/disksize /sys/block/zram0/comp_algorithm` shows `0` and the algorithm
/// it had before.
public enum SignalCleanup {
    /// The registry the handlers run.
    public static let shared = CleanupRegistry()

    /// The signals handled.
    public static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    private static let installed = Mutex(false)

    /// Installs the handlers, the watcher thread and the `atexit` hook (once; later calls do
    /// nothing). If the pipe or the thread cannot be made, only the `atexit` hook is installed
    /// and a warning is printed.
    public static func installHandlers() {
        let first = installed.withLock { installed in
            defer { installed = true }
            return !installed
        }
        guard first else { return }
        atexit { _ = SignalCleanup.shared.runAll() }
        let ends: (readEnd: FileDescriptor, writeEnd: FileDescriptor)
        do {
            ends = try FileDescriptor.pipe()
            for end in [ends.readEnd, ends.writeEnd] { _ = try SystemCall.retrying { fcntl(end.rawValue, F_SETFD, FD_CLOEXEC) } }
        } catch {
            StandardError.line("warning: cannot create the signal pipe (\(error)): an interrupt will not restore the machine")
            return
        }
        let readEnd = ends.readEnd
        do {
            try NativeThread.start {
                var byte: UInt8 = 0
                // FileDescriptor.read resumes after signals; end of file or an error ends the watch.
                while (try? withUnsafeMutableBytes(of: &byte) { try readEnd.read(into: $0) }) == 1 {
                    SignalCleanup.handle(Int32(byte))
                }
            }.detach()
        } catch {
            StandardError.line("warning: cannot start the signal thread (\(error)): an interrupt will not restore the machine")
            try? ends.readEnd.close()
            try? ends.writeEnd.close()
            return
        }
        signalPipeWriteEnd.store(ends.writeEnd.rawValue, ordering: .releasing)
        for signalNumber in signals {
            var previous = sigaction()
            sigaction(signalNumber, nil, &previous)
            if unsafeBitCast(previous.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) {
                continue
            }
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signalNumber in
                let saved = errno
                var byte = UInt8(truncatingIfNeeded: signalNumber)
                let fd = signalPipeWriteEnd.load(ordering: .relaxed)
                if fd >= 0 { _ = Glibc.write(fd, &byte, 1) }
                errno = saved
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(signalNumber, &action, nil)
        }
    }

    /// Runs the registry, then lets `signalNumber` end the process as it would have.
    private static func handle(_ signalNumber: Int32) {
        let ran = shared.runAll()
        if !ran.isEmpty {
            StandardError.line("uswap: interrupted; restored: \(ran.joined(separator: ", "))")
        }
        FatalSignal.endByDefaultAction(signalNumber)
        _exit(128 + signalNumber)
    }
}
