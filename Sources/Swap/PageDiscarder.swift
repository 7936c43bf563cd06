#if os(Linux)
import CUSwap
import Synchronization
import SystemPackage
import SystemSupport

/// Drops the contents of many page ranges of the calling process in one system call
/// (`process_madvise(MADV_DONTNEED)` on the process's own pidfd), so that one TLB flush covers
/// them all instead of one per range: the flush is what costs an inter-processor interrupt to
/// every other CPU running a thread of the process. Where the kernel does not take
/// `MADV_DONTNEED` through `process_madvise` (before Linux 6.13-ish it answers EINVAL) or no
/// pidfd can be opened, it falls back, for good, to one `madvise` per range.
///
/// ```swift
/// let discarder = PageDiscarder()
/// var ranges = [iovec(iov_base: a, iov_len: 4096), iovec(iov_base: b, iov_len: 8192)]
/// if let error = ranges.withUnsafeBufferPointer({ discarder.discard($0) }) { print(error) }
/// // The ranges now read as zeros (or, in a userfaultfd region, fault as missing).
/// ```
///
/// Note for a pager with `UFFD_FEATURE_EVENT_REMOVE`: each discarded range raises a remove
/// event, and the discarding thread waits until the event is read.
///
/// Owner and lifetime: the value owns one pidfd of this process from `init` until it is
/// destroyed (`deinit` closes it); `discard(_:)` is async-signal-safe (system calls and atomics
/// only) and may run on any thread. Invariant: while ``isBatched`` the descriptor is open.
public struct PageDiscarder: ~Copyable, Sendable {
    /// The pidfd, or -1 when every discard goes range by range.
    private let pidfd: Int32
    /// Cleared at the first EINVAL/ENOSYS/EPERM of `process_madvise`: range by range from then.
    private let batched: Atomic<Bool>

    /// Opens a pidfd of this process (batched discards), or settles for one `madvise` per range
    /// when none can be opened.
    public init() {
        let fd = cuswap_pidfd_open(getpid())
        pidfd = fd >= 0 ? fd : -1
        batched = Atomic(fd >= 0)
    }

    deinit {
        if pidfd >= 0 { _ = close(pidfd) }
    }

    /// Whether discards take one system call for all their ranges.
    public var isBatched: Bool { batched.load(ordering: .relaxed) }

    /// Drops the pages of every range (page-aligned starts and lengths, in this process).
    /// Returns nil, or the error of the first range that could not be dropped (later ranges
    /// are still tried). Async-signal-safe.
    public func discard(_ ranges: UnsafeBufferPointer<iovec>) -> Errno? {
        guard let first = ranges.baseAddress, !ranges.isEmpty else { return nil }
        var done = 0
        if batched.load(ordering: .relaxed) {
            var total = 0
            for range in ranges { total += range.iov_len }
            let n = cuswap_process_madvise(pidfd, first, ranges.count, MADV_DONTNEED)
            if n == total { return nil }
            if n < 0 {
                let error = Errno(rawValue: Int32(-n))
                if error == .invalidArgument || error == .noFunction || error == .notPermitted || error == .badFileDescriptor {
                    batched.store(false, ordering: .relaxed)
                }
            } else {
                // Stopped at an error: the ranges it covered are dropped, go on one by one.
                var advised = n
                while done < ranges.count && advised >= ranges[done].iov_len {
                    advised -= ranges[done].iov_len
                    done += 1
                }
            }
        }
        var failure: Errno?
        for range in ranges[done...] {
            let rc = cuswap_madvise(range.iov_base, range.iov_len, MADV_DONTNEED)
            if rc != 0 && failure == nil { failure = Errno(rawValue: rc) }
        }
        return failure
    }

    /// Debug-only: while batched, the pidfd is open.
    public func checkInvariants() {
        #if DEBUG
        if isBatched { precondition(fcntl(pidfd, F_GETFD) >= 0, "the discarder's pidfd \(pidfd) was closed behind its back") }
        #endif
    }
}
#endif
