/// `CLOCK_MONOTONIC`: time that only moves forward, for intervals, timeouts and access ages.
///
/// `clock_gettime` is async-signal-safe, so every reading here may be taken in a signal handler.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary fixed point.
    @inlinable @inline(__always)
    public static func nanoseconds() -> Int {
        var now = timespec()
        _ = clock_gettime(CLOCK_MONOTONIC, &now)
        return Int(now.tv_sec) * 1_000_000_000 + Int(now.tv_nsec)
    }

    /// Seconds since an arbitrary fixed point, with nanosecond resolution.
    @inlinable @inline(__always)
    public static func seconds() -> Double {
        var now = timespec()
        _ = clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
    }

    /// Whole seconds since an arbitrary fixed point (zram's slot access times have this unit).
    @inlinable @inline(__always)
    public static func wholeSeconds() -> Int {
        var now = timespec()
        _ = clock_gettime(CLOCK_MONOTONIC, &now)
        return Int(now.tv_sec)
    }
}

/// `CLOCK_REALTIME` deadlines, for the few calls that take an absolute wall-clock time
/// (`sem_timedwait`, `pthread_cond_timedwait`).
public enum RealtimeDeadline {
    /// The wall-clock time `nanoseconds` from now.
    public static func after(nanoseconds: Int) -> timespec {
        var deadline = timespec()
        _ = clock_gettime(CLOCK_REALTIME, &deadline)
        let total = Int(deadline.tv_nsec) + nanoseconds
        deadline.tv_sec += total / 1_000_000_000
        deadline.tv_nsec = total % 1_000_000_000
        return deadline
    }
}

/// Sleeps the calling thread for `microseconds`, resuming after signals until the time is up.
/// Async-signal-safe (`nanosleep`).
public func sleepMicroseconds(_ microseconds: Int) {
    guard microseconds > 0 else { return }
    var request = timespec(tv_sec: microseconds / 1_000_000, tv_nsec: (microseconds % 1_000_000) * 1000)
    var left = timespec()
    while nanosleep(&request, &left) != 0 && errno == EINTR { request = left }
}
