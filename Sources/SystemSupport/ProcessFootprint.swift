import SystemPackage

/// What this process holds from the system at one moment: open file descriptors, memory
/// mappings, threads and resident memory, read from /proc/self. Comparing two footprints taken
/// around a piece of work that should release everything it made (a swap region created and
/// closed, a device made and dropped) shows a leak.
///
/// ```swift
/// let before = try ProcessFootprint.current()
/// // ... make and close a region ...
/// let after = try ProcessFootprint.current()
/// print(after.openDescriptors - before.openDescriptors)   // 0 unless something leaked a descriptor
/// ```
///
/// Descriptors and threads come back exactly once their owners are gone. Mappings and resident
/// memory may not: the C library keeps freed heap and per-thread arenas, so compare those with
/// a slack.
public struct ProcessFootprint: Sendable, Equatable, CustomStringConvertible {
    /// Open file descriptors (entries of /proc/self/fd, without the one reading it).
    public var openDescriptors: Int
    /// Memory mappings (lines of /proc/self/maps).
    public var mappings: Int
    /// Threads (entries of /proc/self/task).
    public var threads: Int
    /// Resident memory in bytes (`VmRSS` of /proc/self/status).
    public var residentBytes: Int

    /// A footprint with these figures.
    public init(openDescriptors: Int, mappings: Int, threads: Int, residentBytes: Int) {
        self.openDescriptors = openDescriptors
        self.mappings = mappings
        self.threads = threads
        self.residentBytes = residentBytes
    }

    /// This process's footprint now; throws the `Errno` of a /proc file or directory that cannot
    /// be read (no /proc mounted).
    public static func current() throws(Errno) -> ProcessFootprint {
        let descriptors = try entries(of: "/proc/self/fd") - 1  // the directory's own descriptor
        let threads = try entries(of: "/proc/self/task")
        let maps = try ProcFile.readBytes("/proc/self/maps")
        let status = try ProcFile.read("/proc/self/status")
        return ProcessFootprint(
            openDescriptors: descriptors, mappings: maps.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }, threads: threads,
            residentBytes: residentBytes(status: status) ?? 0)
    }

    /// The `VmRSS` line of a /proc/PID/status text in bytes, or nil when it has none (a kernel
    /// thread, a zombie).
    public static func residentBytes(status: String) -> Int? {
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let fields = line.dropFirst("VmRSS:".count).split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let kib = fields.first.flatMap({ Int($0) }) else { return nil }
            return kib * 1024
        }
        return nil
    }

    /// The entries of a directory other than `.` and `..`.
    static func entries(of path: String) throws(Errno) -> Int {
        guard let directory = opendir(path) else { throw SystemCall.lastError }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let dot = withUnsafeBytes(of: entry.pointee.d_name) { name in
                name[0] == 46 && (name[1] == 0 || (name[1] == 46 && name[2] == 0))
            }
            if !dot { count += 1 }
        }
        return count
    }

    /// `fds=N maps=N threads=N rss_kib=N`.
    public var description: String {
        "fds=\(openDescriptors) maps=\(mappings) threads=\(threads) rss_kib=\(residentBytes / 1024)"
    }
}
