import SystemPackage

/// The C library's `read` and `write`, reachable from types that have methods of those names.
public enum Platform {
    /// `read(2)`.
    @inlinable
    public static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
        #if canImport(Glibc) || canImport(Musl)
        return Glibc.read(fd, buffer, count)
        #else
        return Darwin.read(fd, buffer, count)
        #endif
    }

    /// `write(2)`.
    @inlinable
    public static func write(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
        #if canImport(Glibc) || canImport(Musl)
        return Glibc.write(fd, buffer, count)
        #else
        return Darwin.write(fd, buffer, count)
        #endif
    }
}

/// The one retry loop for system calls interrupted by a signal.
///
/// Every call the package makes that can fail with `EINTR` goes through ``retrying(_:)``, so the
/// loop and the conversion of `errno` to a typed `Errno` are written once. Where swift-system's
/// `FileDescriptor` has the call, use it instead (it retries itself).
public enum SystemCall {
    /// Runs `call` until it does not fail with `EINTR`; returns its non-negative result or throws
    /// `errno` as an `Errno` when it returned -1.
    @inlinable
    public static func retrying<T: FixedWidthInteger>(_ call: () -> T) throws(Errno) -> T {
        while true {
            let result = call()
            if result != -1 { return result }
            let code = errno
            if code == EINTR { continue }
            throw Errno(rawValue: code)
        }
    }

    /// For calls that return an error number instead of setting `errno` (`pthread_*`,
    /// `posix_spawn`, `posix_fallocate`): throws it unless it is 0.
    @inlinable
    public static func check(_ code: Int32) throws(Errno) {
        if code != 0 { throw Errno(rawValue: code) }
    }

    /// The calling thread's `errno` now, typed.
    @inlinable
    public static var lastError: Errno { Errno(rawValue: errno) }
}
