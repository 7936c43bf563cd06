#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A handle to one registered cleanup action; pass it back to ``CleanupRegistry/run(_:)`` to run
/// the action now (the normal path) or to ``CleanupRegistry/cancel(_:)`` to drop it.
struct CleanupToken: Sendable, Hashable {
    /// Unique within its registry.
    let id: Int
}

/// An ordered set of "put the machine back" actions, each run at most once.
///
/// Commands that change the machine (a kernel zram device, a swapon, a cgroup) register how to
/// undo the change right after making it, and run that undo themselves on the normal path with
/// ``run(_:)``. Whatever is still registered when the process is interrupted (SIGINT, SIGTERM,
/// SIGHUP) or exits is run by ``runAll()``: newest first, like `defer`, so later changes that
/// depend on earlier ones are undone before them.
///
/// Each action runs exactly once, whichever path reaches it first. Actions run one at a time: an
/// action started on the normal path finishes before ``runAll()`` starts (a signal that arrives
/// during a restore waits for it instead of killing the process halfway through it).
/// An action must not call ``run(_:)`` or ``runAll()`` itself (that would wait for itself); it
/// may call ``register(_:_:)`` and ``cancel(_:)``.
final class CleanupRegistry: Sendable {
    private struct Entry {
        let token: CleanupToken
        let name: String
        let action: @Sendable () -> Void
    }

    private struct State {
        var entries: [Entry] = []
        var nextID = 0
    }

    /// The registered, not yet run, actions in registration order.
    private let state = Mutex(State())
    /// Held while an action runs, so actions never overlap.
    private let running = Mutex(())

    /// An empty registry.
    init() {}

    /// Registers `action` under `name` (used in messages); returns its token.
    @discardableResult
    func register(_ name: String, _ action: @escaping @Sendable () -> Void) -> CleanupToken {
        state.withLock { state in
            let token = CleanupToken(id: state.nextID)
            state.nextID += 1
            state.entries.append(Entry(token: token, name: name, action: action))
            return token
        }
    }

    /// Removes the action for `token` without running it.
    /// - Returns: whether it was still registered.
    @discardableResult
    func cancel(_ token: CleanupToken) -> Bool {
        take(token) != nil
    }

    /// Runs the action for `token` now, if nothing ran it yet, and removes it.
    /// - Returns: whether this call ran it.
    @discardableResult
    func run(_ token: CleanupToken) -> Bool {
        running.withLock { _ in
            guard let entry = take(token) else { return false }
            entry.action()
            return true
        }
    }

    /// Runs every registered action, newest first, each once, and empties the registry.
    /// Actions registered while this runs are run too.
    /// - Returns: the names of the actions run, in the order they ran.
    @discardableResult
    func runAll() -> [String] {
        running.withLock { _ in
            var ran: [String] = []
            while let entry = state.withLock({ $0.entries.popLast() }) {
                entry.action()
                ran.append(entry.name)
            }
            return ran
        }
    }

    /// The names of the actions still registered, oldest first.
    var pendingNames: [String] {
        state.withLock { $0.entries.map(\.name) }
    }

    private func take(_ token: CleanupToken) -> Entry? {
        state.withLock { state in
            guard let index = state.entries.firstIndex(where: { $0.token == token }) else { return nil }
            return state.entries.remove(at: index)
        }
    }
}

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
enum SignalCleanup {
    /// The registry the handlers run.
    static let shared = CleanupRegistry()

    /// The signals handled.
    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    private static let installed = Mutex(false)

    /// Installs the handlers, the watcher thread and the `atexit` hook (once; later calls do
    /// nothing). If the pipe or the thread cannot be made, only the `atexit` hook is installed
    /// and a warning is printed.
    static func installHandlers() {
        let first = installed.withLock { installed in
            defer { installed = true }
            return !installed
        }
        guard first else { return }
        atexit { _ = SignalCleanup.shared.runAll() }
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            StandardError.line("warning: cannot create the signal pipe (\(String(cString: strerror(errno)))): an interrupt will not restore the machine")
            return
        }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        var watcher = pthread_t()
        let started = pthread_create(&watcher, nil, { argument in
            let readEnd = Int32(Int(bitPattern: argument) - 1)
            var byte: UInt8 = 0
            while true {
                let n = read(readEnd, &byte, 1)
                if n == 1 { SignalCleanup.handle(Int32(byte)) }
                if n == 0 || (n < 0 && errno != EINTR) { return nil }
            }
        }, UnsafeMutableRawPointer(bitPattern: Int(ends[0]) + 1))
        guard started == 0 else {
            StandardError.line("warning: cannot start the signal thread (\(String(cString: strerror(started)))): an interrupt will not restore the machine")
            close(ends[0])
            close(ends[1])
            return
        }
        pthread_detach(watcher)
        signalPipeWriteEnd.store(ends[1], ordering: .releasing)
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
                if fd >= 0 { _ = write(fd, &byte, 1) }
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
        signal(signalNumber, SIG_DFL)
        raise(signalNumber)
        _exit(128 + signalNumber)
    }
}
