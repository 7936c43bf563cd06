import SystemPackage
import SystemSupport

/// Reads `/proc/PID/pagemap` entries.
///
/// Owns one open descriptor and a reused entry buffer (a Swift array, allocated once); both live
/// as long as the value. Not shared between threads.
public final class PagemapReader {
    private let file: FileDescriptor
    private let pid: Int32
    private var entries: [UInt64]

    /// Opens the pagemap of `pid`.
    public init(pid: Int32, batchEntries: Int = 8192) throws(ProcessMemoryError) {
        do {
            file = try FileDescriptor.open(FilePath("/proc/\(pid)/pagemap"), .readOnly, options: [.closeOnExec])
        } catch {
            throw ProcessMemoryError(error, pid: pid, operation: "open /proc/\(pid)/pagemap", started: false)
        }
        self.pid = pid
        self.entries = [UInt64](repeating: 0, count: max(1, batchEntries))
    }

    deinit { try? file.close() }

    /// Debug builds: checks the descriptor is open and the entry buffer is not empty.
    public func checkInvariants() {
        #if DEBUG
        precondition(file.rawValue >= 0 && !entries.isEmpty, "PagemapReader lost its descriptor or buffer")
        #endif
    }

    /// Calls `body` with the residency of each page of `mapping`, in address order.
    public func forEachPage(
        of mapping: MemoryMapping, pageSize: Int, _ body: (_ index: Int, PageResidency) -> Void
    ) throws(ProcessMemoryError) {
        let pages = Int(mapping.size) / pageSize
        var done = 0
        while done < pages {
            let want = min(entries.count, pages - done)
            let offset = Int64((Int(mapping.start) / pageSize + done) * 8)
            let got: Int
            do {
                got = try entries.withUnsafeMutableBytes { try file.read(fromAbsoluteOffset: offset, into: UnsafeMutableRawBufferPointer(rebasing: $0[..<(want * 8)])) }
            } catch {
                throw ProcessMemoryError(error, pid: pid, operation: "read /proc/\(pid)/pagemap", started: true)
            }
            // An exited process has no mm: pagemap reads return nothing.
            if got == 0 { throw .processExited(pid: pid) }
            let count = got / 8
            for i in 0..<count { body(done + i, PageResidency(pagemapEntry: entries[i])) }
            done += count
        }
    }
}
