import Synchronization

/// A handle to one registered cleanup action; pass it back to ``CleanupRegistry/run(_:)`` to run
/// the action now (the normal path) or to ``CleanupRegistry/cancel(_:)`` to drop it.
public struct CleanupToken: Sendable, Hashable {
    /// Unique within its registry.
    public let id: Int
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
public final class CleanupRegistry: Sendable {
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
    public init() {}

    /// Registers `action` under `name` (used in messages); returns its token.
    @discardableResult
    public func register(_ name: String, _ action: @escaping @Sendable () -> Void) -> CleanupToken {
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
    public func cancel(_ token: CleanupToken) -> Bool {
        take(token) != nil
    }

    /// Runs the action for `token` now, if nothing ran it yet, and removes it.
    /// - Returns: whether this call ran it.
    @discardableResult
    public func run(_ token: CleanupToken) -> Bool {
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
    public func runAll() -> [String] {
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
    public var pendingNames: [String] {
        state.withLock { $0.entries.map(\.name) }
    }

    private func take(_ token: CleanupToken) -> Entry? {
        state.withLock { state in
            guard let index = state.entries.firstIndex(where: { $0.token == token }) else { return nil }
            return state.entries.remove(at: index)
        }
    }
}

/// One cleanup action registered later, from a callback, and cancelled when the work it guards
/// is over: holds the token, so that a closure can register and its owner can cancel
/// (`uswap analyze` registers the removal of its dump once the file exists, and cancels it
/// when the scan ended).
public final class PendingCleanup: Sendable {
    private let registry: CleanupRegistry
    private let token = Mutex<CleanupToken?>(nil)

    /// Nothing registered yet, on `registry` (the process's signal cleanup by default).
    public init(registry: CleanupRegistry = SignalCleanup.shared) {
        self.registry = registry
    }

    /// Registers `action` under `name`; one registered before through this value is cancelled.
    public func register(_ name: String, _ action: @escaping @Sendable () -> Void) {
        let new = registry.register(name, action)
        let old = token.withLock { token in
            defer { token = new }
            return token
        }
        if let old { registry.cancel(old) }
    }

    /// Cancels the registered action if it has not run; later calls do nothing.
    public func cancel() {
        let current = token.withLock { token in
            defer { token = nil }
            return token
        }
        if let current { registry.cancel(current) }
    }
}
