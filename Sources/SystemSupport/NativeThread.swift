import SystemPackage

/// A POSIX thread running a Swift closure: the one place the package starts threads.
///
/// Swap's fault handler, reclaimer and I/O threads, the benchmarks' application threads and the
/// CLI's signal watcher need real threads (a thread per fault loop, a known identity for
/// signal masks), not tasks on a cooperative pool. The closure is retained by the thread
/// and released when it returns.
public struct NativeThread: Sendable {
    /// The thread's handle; valid until ``join()`` or ``detach()``.
    public let handle: pthread_t

    private final class Start: @unchecked Sendable {  // handed to exactly one new thread
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Starts a thread running `body`; throws the error `pthread_create` returned (EAGAIN when
    /// the process is at its thread limit).
    public static func start(_ body: @escaping @Sendable () -> Void) throws(Errno) -> NativeThread {
        let context = Unmanaged.passRetained(Start(body)).toOpaque()
        #if canImport(Darwin)
        var handle: pthread_t?  // an opaque pointer there, with no empty value
        #else
        var handle = pthread_t()
        #endif
        let rc = pthread_create(&handle, nil, { raw in
            #if canImport(Darwin)
            let start = Unmanaged<Start>.fromOpaque(raw).takeRetainedValue()
            #else
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            #endif
            start.body()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<Start>.fromOpaque(context).release()
            throw Errno(rawValue: rc)
        }
        #if canImport(Darwin)
        return NativeThread(handle: handle!)  // set by a pthread_create that returned 0
        #else
        return NativeThread(handle: handle)
        #endif
    }

    /// Waits for the thread to return. Call once, and never from the thread itself.
    public func join() { _ = pthread_join(handle, nil) }

    /// Lets the thread's resources go when it returns, without a join.
    public func detach() { _ = pthread_detach(handle) }

    /// Runs `body(i)` for `i` in `0..<count`, each on a thread of its own, and waits for all of
    /// them. A thread that cannot be started runs its share on the calling thread instead, so no
    /// work is lost.
    public static func runAll(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        var threads: [NativeThread] = []
        threads.reserveCapacity(count)
        for i in 0..<count {
            if let thread = try? start({ body(i) }) { threads.append(thread) } else { body(i) }
        }
        for thread in threads { thread.join() }
    }

    /// Lets another runnable thread have the processor (`sched_yield`). Async-signal-safe.
    @inlinable @inline(__always)
    public static func yield() { _ = sched_yield() }

    /// Processors online, at least 1.
    public static var processorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// A number identifying the calling thread (its `pthread_self`), to spread threads over
    /// per-thread resources such as codec streams. Async-signal-safe.
    @inlinable @inline(__always)
    public static func currentHint() -> Int {
        #if canImport(Darwin)
        return Int(bitPattern: pthread_self())
        #else
        return Int(bitPattern: UInt(pthread_self()))
        #endif
    }

    /// The calling thread's slot among `count` per-thread resources (codec streams, counter
    /// shards): ``slot(of:count:)`` of ``currentHint()``. Async-signal-safe.
    @inlinable @inline(__always)
    public static func currentSlot(count: Int) -> Int { slot(of: currentHint(), count: count) }

    /// `hint`'s slot among `count` (> 0): its bits mixed by a Fibonacci hash first, since
    /// pthread_self values are aligned addresses (default stacks 8 MiB apart), whose low bits
    /// alone would send every thread to the same slot.
    @inlinable @inline(__always)
    public static func slot(of hint: Int, count: Int) -> Int {
        Int(truncatingIfNeeded: (UInt(bitPattern: hint) &* 0x9E37_79B9_7F4A_7C15) >> 33) % count
    }
}
