import Synchronization
import SystemSupport

/// One of a region's own threads (the fault handler thread, the background reclaimer) with the
/// flag that keeps its loop going: started once, stopped once, by the region's owner.
///
/// The loop checks ``isRunning`` between rounds; ``stop(waking:)`` clears it, wakes the loop
/// if it sleeps, and joins the thread.
final class PagerThread: @unchecked Sendable {
    // @unchecked Sendable: `running` is atomic; the handle is touched only by start and stop,
    // which the owning region calls from one thread at a time.
    private let running = Atomic<Bool>(false)
    private var thread: NativeThread?
    /// What the thread does, for the error a failed start throws.
    private let role: String

    /// A thread that will do `role` (named in errors) once started.
    init(role: String) {
        self.role = role
    }

    /// Whether the loop should go on.
    @inline(__always)
    var isRunning: Bool { running.load(ordering: .acquiring) }

    /// Starts the thread running `loop`; throws ``SwapError/systemCall(_:errno:)`` when the
    /// thread cannot be started.
    func start(_ loop: @escaping @Sendable () -> Void) throws(SwapError) {
        running.store(true, ordering: .releasing)
        do {
            thread = try NativeThread.start(loop)
        } catch {
            running.store(false, ordering: .releasing)
            throw .systemCall("pthread_create (\(role))", errno: error)
        }
    }

    /// Tells the loop to end, calls `wake` (so that a loop asleep notices), and waits for the
    /// thread. Does nothing when the thread was never started or already stopped.
    func stop(waking wake: () -> Void = {}) {
        guard let thread else { return }
        running.store(false, ordering: .releasing)
        wake()
        thread.join()
        self.thread = nil
    }
}
