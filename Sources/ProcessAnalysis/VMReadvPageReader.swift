import SystemPackage
import SystemSupport

/// `process_vm_readv(pid, local, liovcnt, remote, riovcnt, flags)`.
public typealias ProcessVMReadv = @convention(c) (
    pid_t, UnsafePointer<iovec>?, UInt, UnsafePointer<iovec>?, UInt, UInt
) -> Int

/// Reads pages with `process_vm_readv`, all segments of a batch in one system call.
///
/// Memory: owns a preallocated iovec array of `maxSegments` entries (and one local iovec),
/// allocated in `init` and freed in `deinit`. Invariant: `maxSegments >= 1`.
public final class VMReadvPageReader: ProcessPageReader {
    private let pid: Int32
    private let local: UnsafeMutablePointer<iovec>
    private let remote: UnsafeMutablePointer<iovec>
    private let maxSegments: Int

    private let readv: ProcessVMReadv

    /// The C library's `process_vm_readv` (Glibc's Swift module does not export it), or `nil`
    /// when this C library has none.
    public static let systemReadv: ProcessVMReadv? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "process_vm_readv") else { return nil }
        return unsafeBitCast(symbol, to: ProcessVMReadv.self)
    }()

    /// A reader of `pid` for batches of up to `maxSegments` segments, or `nil` when the C
    /// library has no `process_vm_readv` (use ``ProcMemPageReader``).
    public init?(pid: Int32, maxSegments: Int = 256) {
        guard let readv = Self.systemReadv else { return nil }
        self.readv = readv
        self.pid = pid
        self.maxSegments = max(1, maxSegments)
        local = .allocate(capacity: 1)
        remote = .allocate(capacity: self.maxSegments)
    }

    deinit {
        local.deallocate()
        remote.deallocate()
    }

    /// Debug builds: checks that the iovec array has room for at least one segment.
    public func checkInvariants() {
        #if DEBUG
        precondition(maxSegments >= 1, "VMReadvPageReader needs room for one segment")
        #endif
    }

    /// Reads the segments in batches of `maxSegments`, one system call each; see
    /// ``ProcessPageReader/read(_:into:)``.
    public func read(_ segments: UnsafeBufferPointer<RemoteSegment>, into buffer: UnsafeMutableRawBufferPointer)
        throws(ProcessMemoryError) -> Int
    {
        var total = 0
        var first = 0
        while first < segments.count {
            let count = min(maxSegments, segments.count - first)
            var length = 0
            for i in 0..<count {
                let segment = segments[first + i]
                remote[i] = iovec(iov_base: UnsafeMutableRawPointer(bitPattern: segment.address), iov_len: segment.length)
                length += segment.length
            }
            precondition(total + length <= buffer.count, "reader buffer smaller than the segments")
            local.pointee = iovec(iov_base: buffer.baseAddress! + total, iov_len: length)
            let got: Int
            do {
                got = try SystemCall.retrying { readv(pid_t(pid), local, 1, remote, UInt(count), 0) }
            } catch .badAddress {
                // The first segment's first page is gone; report the prefix read so far.
                return total
            } catch {
                throw ProcessMemoryError(errno: error, pid: pid, operation: "process_vm_readv", started: true)
            }
            total += got
            if got < length { return total }
            first += count
        }
        return total
    }
}
