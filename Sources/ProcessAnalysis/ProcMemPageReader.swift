import SystemPackage
import SystemSupport

/// Reads pages with `pread` on `/proc/PID/mem`, one call per segment.
///
/// Owns one open descriptor for the life of the reader.
public final class ProcMemPageReader: ProcessPageReader {
    private let pid: Int32
    private let file: FileDescriptor

    /// Opens `/proc/PID/mem`.
    public init(pid: Int32) throws(ProcessMemoryError) {
        do {
            file = try FileDescriptor.open(FilePath("/proc/\(pid)/mem"), .readOnly, options: [.closeOnExec])
        } catch {
            throw ProcessMemoryError(error, pid: pid, operation: "open /proc/\(pid)/mem", started: false)
        }
        self.pid = pid
    }

    deinit { try? file.close() }

    /// Debug builds: checks the descriptor is open.
    public func checkInvariants() {
        #if DEBUG
        precondition(file.rawValue >= 0, "ProcMemPageReader lost its descriptor")
        #endif
    }

    /// Reads each segment with `pread` at its address; see ``ProcessPageReader/read(_:into:)``.
    public func read(_ segments: UnsafeBufferPointer<RemoteSegment>, into buffer: UnsafeMutableRawBufferPointer)
        throws(ProcessMemoryError) -> Int
    {
        var total = 0
        for segment in segments {
            precondition(total + segment.length <= buffer.count, "reader buffer smaller than the segments")
            var done = 0
            while done < segment.length {
                let target = UnsafeMutableRawBufferPointer(start: buffer.baseAddress! + total + done, count: segment.length - done)
                let got: Int
                do {
                    got = try file.read(fromAbsoluteOffset: Int64(Int(bitPattern: segment.address + UInt(done))), into: target)
                } catch let error as Errno where error == .ioError || error == .badAddress {
                    return total + done
                } catch {
                    throw ProcessMemoryError(error, pid: pid, operation: "read /proc/\(pid)/mem", started: true)
                }
                // An exited process (a zombie) reads as end of file.
                if got == 0 { throw .processExited(pid: pid) }
                done += got
            }
            total += segment.length
        }
        return total
    }
}
