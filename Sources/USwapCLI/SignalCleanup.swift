#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
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

/// The process-wide cleanup registry and the signal handling that runs it.
///
/// Call ``installHandlers()`` once before changing the machine, then register undo actions on
/// ``shared``. On SIGINT, SIGTERM or SIGHUP the registered actions run (on a dispatch queue, not
/// inside a signal handler, so they may do ordinary I/O), then the signal's default action is
/// restored and the signal raised again, so the process ends with the status a shell expects
/// (130 for Ctrl-C). At a normal `exit` the remaining actions run from an `atexit` hook.
///
/// Manual check of the signal path (the test suite never forks): run
/// `uswap bench device --corpus F --vs-kernel` as root, press Ctrl-C (or `kill -TERM <pid>`)
/// while it prints `kernel run`, then `cat /sys/block/zram0/disksize /sys/block/zram0/comp_algorithm`
/// shows `0` and the algorithm it had before, and `echo $?` shows 130 (143 for TERM).
enum SignalCleanup {
    /// The registry the handlers run.
    static let shared = CleanupRegistry()

    /// The signals handled.
    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    private static let installed = Mutex(false)
    private static let queue = DispatchQueue(label: "uswap.signal-cleanup")
    /// Keeps the dispatch sources alive for the life of the process.
    private static let sources = Mutex<[any DispatchSourceSignal]>([])

    /// Installs the signal sources and the `atexit` hook (once; later calls do nothing).
    static func installHandlers() {
        let first = installed.withLock { installed in
            defer { installed = true }
            return !installed
        }
        guard first else { return }
        sources.withLock { sources in
            for signalNumber in signals {
                // The dispatch source sees the signal only when its default action is off.
                signal(signalNumber, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
                source.setEventHandler { handle(signalNumber) }
                source.resume()
                sources.append(source)
            }
        }
        atexit { _ = SignalCleanup.shared.runAll() }
    }

    /// Runs the registry, then lets `signalNumber` end the process as it would have.
    private static func handle(_ signalNumber: Int32) {
        let ran = shared.runAll()
        if !ran.isEmpty {
            let message = "uswap: interrupted; restored: \(ran.joined(separator: ", "))\n"
            _ = message.withCString { write(STDERR_FILENO, $0, strlen($0)) }
        }
        signal(signalNumber, SIG_DFL)
        raise(signalNumber)
    }
}
