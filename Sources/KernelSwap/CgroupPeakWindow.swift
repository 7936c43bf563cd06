import SystemPackage
import SystemSupport

/// The most memory a kernel child's cgroup held during its timed phase, as the kernel counted
/// it: memory.max_usage_in_bytes reset when the phase starts and read when it ends.
///
/// ```swift
/// let window = CgroupPeakWindow.start(cgroup, droppingCacheOf: [corpusPath])
/// workload.touch(region)
/// report.record(cgroupPeak: window.peak())
/// ```
///
/// Before the reset, the page cache of `files` (a corpus the fill read, charged to the cgroup)
/// is dropped where the kernel can (`POSIX_FADV_DONTNEED`; pages still mapped stay), so it
/// does not count as the workload's memory. A reset that fails makes the peak unavailable: the
/// whole run's peak is never passed off as the timed phase's.
public struct CgroupPeakWindow: Sendable {
    private let cgroup: MemoryCgroup
    private let startFailure: KernelSwapError?

    /// Drops the page cache of `files`, then resets the cgroup's peak.
    public static func start(_ cgroup: MemoryCgroup, droppingCacheOf files: [String] = []) -> CgroupPeakWindow {
        for file in files { dropPageCache(of: file) }
        do {
            try cgroup.resetPeak()
            return CgroupPeakWindow(cgroup: cgroup, startFailure: nil)
        } catch {
            return CgroupPeakWindow(cgroup: cgroup, startFailure: error)
        }
    }

    /// The peak since ``start(_:droppingCacheOf:)``, or why it is unavailable (the reset or
    /// the read failed).
    public func peak() -> Result<Int, KernelSwapError> {
        if let startFailure { return .failure(.failed("the peak could not be reset: \(startFailure)")) }
        do { return .success(try cgroup.peakBytes()) } catch { return .failure(error) }
    }

    /// Asks the kernel to drop the cached pages of `path`, writing dirty ones first (they
    /// cannot be dropped otherwise). Best effort: a file that cannot be opened keeps its cache,
    /// which then counts in the peak, never less.
    static func dropPageCache(of path: String) {
        guard let fd = try? SystemCall.retrying({ open(path, O_RDONLY | O_CLOEXEC) }) else { return }
        _ = try? SystemCall.retrying { fdatasync(fd) }
        _ = posix_fadvise(fd, 0, 0, 4)  // POSIX_FADV_DONTNEED
        _ = close(fd)
    }
}
