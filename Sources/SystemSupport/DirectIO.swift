import SystemPackage

/// `O_DIRECT`, which the C headers hide behind `_GNU_SOURCE` so Swift does not see it; the
/// value differs by architecture. Linux only: other systems have no such flag (nil).
public enum DirectIOFlag {
    /// The raw flag for `open(2)` and `fcntl(F_SETFL)`, or nil where the platform has none.
    public static var rawValue: Int32? {
        #if os(Linux)
        #if arch(x86_64) || arch(i386)
        return 0o40000
        #elseif arch(arm64) || arch(arm)
        return 0o200000
        #elseif arch(powerpc64) || arch(powerpc64le)
        return 0o400000
        #else
        return 0o40000
        #endif
        #else
        return nil
        #endif
    }

    /// Turns `O_DIRECT` on for an open descriptor (`fcntl(F_SETFL)`), so a file opened safely by
    /// its creator never needs a second open by path. Throws EINVAL where the file system has no
    /// direct I/O (tmpfs), ENOTSUP where the platform has none.
    public static func enable(on fd: Int32) throws(Errno) {
        guard let flag = rawValue else { throw Errno.notSupported }
        let flags = try SystemCall.retrying { fcntl(fd, F_GETFL) }
        _ = try SystemCall.retrying { fcntl(fd, F_SETFL, flags | flag) }
    }
}
