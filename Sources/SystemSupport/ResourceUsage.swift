/// The fields of `getrusage` that benchmarks and reports use.
public struct ResourceUsage: Sendable, Equatable {
    /// Whose usage to read.
    public enum Who: Sendable {
        /// This process, all its threads (`RUSAGE_SELF`).
        case process
        /// The calling thread only (`RUSAGE_THREAD`; Linux).
        case thread
        /// Children that ended and were waited for (`RUSAGE_CHILDREN`).
        case children
    }

    /// User + system CPU seconds.
    public var cpuSeconds: Double
    /// Major page faults (faults that needed I/O or swap-in).
    public var majorFaults: Int
    /// Minor page faults.
    public var minorFaults: Int
    /// Peak resident set size in bytes (for `.children`, the largest child's).
    public var maxResidentBytes: Int

    /// The usage of `who` now.
    public static func now(_ who: Who = .process) -> ResourceUsage {
        var r = rusage()
        #if canImport(Glibc) || canImport(Musl)
        let code: Int32
        switch who {
        case .process: code = RUSAGE_SELF.rawValue
        case .thread: code = 1  // RUSAGE_THREAD
        case .children: code = RUSAGE_CHILDREN.rawValue
        }
        _ = getrusage(__rusage_who_t(code), &r)
        let kibibytes = Int(r.ru_maxrss) * 1024
        #else
        let code: Int32 = who == .children ? RUSAGE_CHILDREN : RUSAGE_SELF
        _ = getrusage(code, &r)
        let kibibytes = Int(r.ru_maxrss)  // bytes on Darwin
        #endif
        let cpu = Double(r.ru_utime.tv_sec + r.ru_stime.tv_sec) + Double(r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-6
        return ResourceUsage(
            cpuSeconds: cpu, majorFaults: Int(r.ru_majflt), minorFaults: Int(r.ru_minflt), maxResidentBytes: kibibytes)
    }
}
