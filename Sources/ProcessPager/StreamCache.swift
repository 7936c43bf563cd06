import CProcessPager
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Drops the page cache a program leaves behind it as it streams through a regular file: pages
/// more than ``keptBehindBytes`` behind the position of one of its descriptors.
///
/// A memory cgroup charges the page cache of the files its processes write and read, and at its
/// limit reclaims the pages used once (the inactive file list) before anything else. `uswap run`
/// caps anonymous memory only, so without this a program that streams a file larger than its
/// limit keeps all of it cached: redis-server's BGSAVE child writes a 48 MiB dump at a 92 MiB
/// limit, and the second server reads it back, all of it charged to the run. At each sample the
/// pager looks at every descriptor of the tree's processes; for a regular file whose position has
/// moved more than ``keptBehindBytes`` + ``minimumDropBytes`` into it, it drops the clean pages of
/// `[0, position - keptBehindBytes)` (`posix_fadvise(POSIX_FADV_DONTNEED)`, which also starts
/// the writeback of the dirty ones there, dropped at a later sample once clean).
///
/// What it never does: open anything but a regular file (a FIFO or a device behind a descriptor
/// is left alone, checked again after the open), touch pages ahead of a position or within
/// ``keptBehindBytes`` of it, drop a page some process maps or that is dirty, or hold a file open
/// past the call. Page cache is the machine's, not the program's: the pages dropped are gone for
/// every reader of the file, as they would be after the cgroup's reclaim.
public enum StreamCache {
    /// Pages this close behind a descriptor's position stay: a program often reads again what
    /// it has just written or read (a log's last records, a record it seeks back to).
    public static let keptBehindBytes = 1 << 20
    /// A range smaller than this is left for a later sample (each drop is three system calls).
    public static let minimumDropBytes = 512 << 10

    /// What one pass over a tree's descriptors did.
    public struct Trim: Sendable, Equatable {
        /// Descriptors of regular files far enough into the file to be looked at.
        public var streams = 0
        /// Page cache the pass dropped, in bytes (0 where the kernel has no cachestat(2) to
        /// count it: Linux before 6.5).
        public var droppedBytes = 0
    }

    /// Trims the page cache behind every descriptor of processes `pids`. A process that exits
    /// meanwhile, or a descriptor that closes, is skipped.
    public static func trim(pids: [Int32]) -> Trim {
        var total = Trim()
        for pid in pids {
            for fd in descriptors(of: pid) {
                guard let dropped = trim(pid: pid, descriptor: fd) else { continue }
                total.streams += 1
                total.droppedBytes += dropped
            }
        }
        return total
    }

    /// Trims the page cache behind descriptor `descriptor` of process `pid`: the bytes dropped,
    /// or nil when it is not a regular file at least ``keptBehindBytes`` + ``minimumDropBytes``
    /// in (or is gone, or may not be opened).
    public static func trim(pid: Int32, descriptor: Int32) -> Int? {
        var size: Int64 = 0
        var position: Int64 = 0
        let file = uswap_open_process_file(pid, descriptor, &size, &position)
        guard file >= 0 else { return nil }
        defer { uswap_close(file) }
        guard let range = droppableRange(position: Int(position), size: Int(size)) else { return nil }
        let before = uswap_cached_pages(file, 0, UInt64(range))
        if before == 0 { return 0 }
        guard uswap_drop_file_cache(file, 0, UInt64(range)) == 0 else { return 0 }
        let after = uswap_cached_pages(file, 0, UInt64(range))
        guard before > 0, after >= 0 else { return 0 }
        return Int(max(0, before - after)) * 4096
    }

    /// The length of `[0, n)` that may be dropped for a descriptor at `position` in a file of
    /// `size` bytes, or nil when it is too short to be worth a drop.
    static func droppableRange(position: Int, size: Int) -> Int? {
        let end = min(position, size) - keptBehindBytes
        return end >= minimumDropBytes ? end : nil
    }

    /// The open descriptors of `pid` (/proc/PID/fd); empty when the process is gone.
    static func descriptors(of pid: Int32) -> [Int32] {
        guard let directory = opendir("/proc/\(pid)/fd") else { return [] }
        defer { closedir(directory) }
        var found: [Int32] = []
        while let entry = readdir(directory) {
            let number = withUnsafeBytes(of: entry.pointee.d_name) { name -> Int32? in
                var value: Int32 = 0
                for byte in name {
                    if byte == 0 { break }
                    guard byte >= 48, byte <= 57, value < Int32.max / 10 - 9 else { return nil }
                    value = value * 10 + Int32(byte - 48)
                }
                return name[0] == 0 ? nil : value
            }
            if let number { found.append(number) }
        }
        return found
    }
}
