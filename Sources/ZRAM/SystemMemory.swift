#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over the virtual-memory calls the pool makes, so the rest of the module stays
/// free of platform conditionals.
enum SystemMemory {
    /// The system's page size (4 KiB on x86-64), the unit of `pages_compacted`.
    static let pageSize: Int = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Reserves `bytes` of zero-filled, private, anonymous address space that costs no memory
    /// until touched. Returns `nil` when the system refuses.
    static func reserve(_ bytes: Int) -> UnsafeMutableRawPointer? {
        #if os(Linux)
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE
        #else
        let flags = MAP_PRIVATE | MAP_ANON
        #endif
        guard let address = mmap(nil, bytes, PROT_READ | PROT_WRITE, flags, -1, 0),
            address != MAP_FAILED
        else { return nil }
        #if os(Linux)
        // Transparent huge pages would make one touched object cost 2 MiB: keep base pages.
        _ = madvise(address, bytes, MADV_NOHUGEPAGE)
        #endif
        return address
    }

    /// Returns a reservation made by ``reserve(_:)``.
    static func release(_ address: UnsafeMutableRawPointer, bytes: Int) {
        _ = munmap(address, bytes)
    }

    /// Gives the pages of `address..<address+bytes` back to the system at once; they read as
    /// zeros when touched again.
    static func discard(_ address: UnsafeMutableRawPointer, bytes: Int) {
        #if os(Linux)
        _ = madvise(address, bytes, MADV_DONTNEED)
        #else
        _ = madvise(address, bytes, MADV_FREE)
        #endif
    }

    /// Processors online, at least 1.
    static var processorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Seconds since an arbitrary fixed point (CLOCK_MONOTONIC), for slot access times.
    static func monotonicSeconds() -> Int {
        var now = timespec()
        _ = clock_gettime(CLOCK_MONOTONIC, &now)
        return Int(now.tv_sec)
    }

    /// Nanoseconds since an arbitrary fixed point (CLOCK_MONOTONIC), for measuring costs.
    static func monotonicNanoseconds() -> Int {
        var now = timespec()
        _ = clock_gettime(CLOCK_MONOTONIC, &now)
        return Int(now.tv_sec) * 1_000_000_000 + Int(now.tv_nsec)
    }

    /// A small number identifying the calling thread, to spread threads over codec streams.
    static func threadHint() -> Int {
        #if os(Linux)
        return Int(bitPattern: UInt(pthread_self()))
        #else
        return Int(bitPattern: pthread_self())
        #endif
    }

    /// Lets another thread run while this one waits for a slot or a stream.
    static func yield() {
        _ = sched_yield()
    }
}
