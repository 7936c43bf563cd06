#if os(Linux)
import Glibc
#endif

/// What went wrong while reading another process's memory, with what to do about it.
enum ProcessMemoryError: Error, Equatable, CustomStringConvertible {
    /// There is no process with this id (or it is gone before anything could be read).
    case noSuchProcess(pid: Int32)
    /// The kernel refused access: `operation` is what was refused (`open /proc/PID/maps`,
    /// `process_vm_readv`, ...).
    case permissionDenied(pid: Int32, operation: String)
    /// The process exited while it was being read.
    case processExited(pid: Int32)
    /// Any other system error, with the call that failed and its errno.
    case systemError(pid: Int32, operation: String, errno: Int32)
    /// `/proc/PID/maps` held a line this parser does not understand.
    case malformedMaps(pid: Int32, line: String)

    /// Maps an errno from `operation` on `pid` to the error a user can act on.
    ///
    /// ESRCH and ENOENT mean the process is gone: ``noSuchProcess(pid:)`` before anything was
    /// read, ``processExited(pid:)`` after (`started`). EPERM and EACCES mean ptrace access was
    /// refused.
    init(errno code: Int32, pid: Int32, operation: String, started: Bool) {
        switch code {
        case ESRCH, ENOENT: self = started ? .processExited(pid: pid) : .noSuchProcess(pid: pid)
        case EPERM, EACCES: self = .permissionDenied(pid: pid, operation: operation)
        default: self = .systemError(pid: pid, operation: operation, errno: code)
        }
    }

    var description: String {
        switch self {
        case .noSuchProcess(let pid):
            return "no process with pid \(pid): check the id with `ps -p \(pid)`"
        case .permissionDenied(let pid, let operation):
            return """
                permission denied reading process \(pid) (\(operation)): reading another process's memory \
                needs ptrace access to it: run as the same user as the process, with \
                kernel.yama.ptrace_scope 0 (\(ptraceScopeDescription)), or as root / with CAP_SYS_PTRACE \
                (e.g. `sudo uswap analyze --pid \(pid)`). The process is never attached or stopped.
                """
        case .processExited(let pid):
            return "process \(pid) exited while it was being read"
        case .systemError(let pid, let operation, let code):
            return "\(operation) for process \(pid) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .malformedMaps(let pid, let line):
            return "cannot parse a line of /proc/\(pid)/maps: \"\(line)\"; please report this"
        }
    }

    /// The current `kernel.yama.ptrace_scope`, said in words.
    private var ptraceScopeDescription: String {
        guard let text = try? readProcFile("/proc/sys/kernel/yama/ptrace_scope"),
            let scope = Int(text.filter { !$0.isWhitespace })
        else { return "Yama is not active on this kernel" }
        switch scope {
        case 0: return "it is 0 here"
        case 1: return "it is 1 here: only a parent may read its descendants unless it is root"
        case 2: return "it is 2 here: only root / CAP_SYS_PTRACE may read"
        default: return "it is \(scope) here: no process may read another"
        }
    }
}

/// Reads a small text file (`/proc/...`) whole; throws the errno on failure.
func readProcFile(_ path: String) throws(ErrnoValue) -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw ErrnoValue(code: errno) }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw ErrnoValue(code: errno)
        }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// An errno value as an `Error`.
struct ErrnoValue: Error, Equatable {
    /// The errno.
    var code: Int32
}

/// One line of `/proc/PID/maps`: a virtual memory area of a process.
struct MemoryMapping: Sendable, Equatable {
    /// The first address.
    var start: UInt
    /// One past the last address.
    var end: UInt
    /// `rw-p` and friends.
    var permissions: String
    /// The file offset (0 for anonymous memory).
    var offset: UInt64
    /// The inode of the mapped file (0 for anonymous memory).
    var inode: UInt64
    /// The file or pseudo path (`[heap]`, `[stack]`), empty for anonymous memory.
    var path: String

    /// The size in bytes.
    var size: UInt { end - start }

    /// A name for reports: the path, or `[anon]` for anonymous memory.
    var name: String { path.isEmpty ? "[anon]" : path }

    /// Whether this is memory `uswap analyze` reads, exactly as the team's reference dumper
    /// (`shared/tools/dump_anon.py`) chooses it: readable and writable, and either anonymous
    /// (no path) or the `[heap]`. Stacks, named anonymous memory, file mappings (also private
    /// writable ones, whose pages are mostly clean file pages) and shared memory are left out.
    var isAnalyzed: Bool {
        permissions.hasPrefix("rw") && (path.isEmpty || path == "[heap]")
    }

    /// Parses one line of `/proc/PID/maps`:
    /// `55d0c8a00000-55d0c8a21000 rw-p 00000000 00:00 0          [heap]`.
    init?(line: Substring) {
        var fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)[...]
        guard fields.count >= 5 else { return nil }
        let range = fields.removeFirst().split(separator: "-")
        guard range.count == 2, let start = UInt(range[0], radix: 16), let end = UInt(range[1], radix: 16),
            start < end
        else { return nil }
        let permissions = String(fields.removeFirst())
        guard permissions.utf8.count == 4, let offset = UInt64(fields.removeFirst(), radix: 16) else { return nil }
        _ = fields.removeFirst()  // device
        guard let inode = UInt64(fields.removeFirst()) else { return nil }
        let path = fields.first.map { String($0.drop { $0 == " " }) } ?? ""
        self.init(start: start, end: end, permissions: permissions, offset: offset, inode: inode, path: path)
    }

    /// A mapping from its parts.
    init(start: UInt, end: UInt, permissions: String, offset: UInt64 = 0, inode: UInt64 = 0, path: String) {
        self.start = start
        self.end = end
        self.permissions = permissions
        self.offset = offset
        self.inode = inode
        self.path = path
    }

    /// Parses the whole of `/proc/PID/maps`.
    static func parse(maps text: String, pid: Int32) throws(ProcessMemoryError) -> [MemoryMapping] {
        var result: [MemoryMapping] = []
        for line in text.split(separator: "\n") where !line.isEmpty {
            guard let mapping = MemoryMapping(line: line) else {
                throw .malformedMaps(pid: pid, line: String(line))
            }
            result.append(mapping)
        }
        return result
    }

    /// The mappings of process `pid`, as `/proc/PID/maps` lists them.
    static func read(pid: Int32) throws(ProcessMemoryError) -> [MemoryMapping] {
        let text: String
        do {
            text = try readProcFile("/proc/\(pid)/maps")
        } catch {
            throw ProcessMemoryError(errno: error.code, pid: pid, operation: "open /proc/\(pid)/maps", started: false)
        }
        // A process that exited but is not yet reaped (a zombie) has an empty maps file.
        if text.isEmpty { throw .noSuchProcess(pid: pid) }
        return try parse(maps: text, pid: pid)
    }
}

/// The state of one virtual page, from its `/proc/PID/pagemap` entry.
enum PageResidency: Equatable {
    /// In RAM (bit 63): readable without changing anything.
    case present
    /// Swapped out (bit 62): reading it would swap it back in, so it is skipped.
    case swapped
    /// Neither: never touched, or dropped. Reading it would fault in a page, so it is skipped.
    case notPresent

    /// Decodes a pagemap entry.
    init(pagemapEntry entry: UInt64) {
        if entry & (1 << 63) != 0 {
            self = .present
        } else if entry & (1 << 62) != 0 {
            self = .swapped
        } else {
            self = .notPresent
        }
    }
}

/// Reads `/proc/PID/pagemap` entries.
///
/// Owns one open descriptor and a reused entry buffer (a Swift array, allocated once); both live
/// as long as the value. Not shared between threads.
final class PagemapReader {
    private let fd: Int32
    private let pid: Int32
    private var entries: [UInt64]

    /// Opens the pagemap of `pid`.
    init(pid: Int32, batchEntries: Int = 8192) throws(ProcessMemoryError) {
        let fd = open("/proc/\(pid)/pagemap", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ProcessMemoryError(errno: errno, pid: pid, operation: "open /proc/\(pid)/pagemap", started: false)
        }
        self.fd = fd
        self.pid = pid
        self.entries = [UInt64](repeating: 0, count: max(1, batchEntries))
    }

    deinit { close(fd) }

    /// Debug builds: checks the descriptor is open and the entry buffer is not empty.
    func checkInvariants() {
        #if DEBUG
        precondition(fd >= 0 && !entries.isEmpty, "PagemapReader lost its descriptor or buffer")
        #endif
    }

    /// Calls `body` with the residency of each page of `mapping`, in address order.
    func forEachPage(
        of mapping: MemoryMapping, pageSize: Int, _ body: (_ index: Int, PageResidency) -> Void
    ) throws(ProcessMemoryError) {
        let pages = Int(mapping.size) / pageSize
        var done = 0
        while done < pages {
            let want = min(entries.count, pages - done)
            let offset = off_t((Int(mapping.start) / pageSize + done) * 8)
            let got = entries.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want * 8, offset) }
            if got < 0 {
                if errno == EINTR { continue }
                throw ProcessMemoryError(errno: errno, pid: pid, operation: "read /proc/\(pid)/pagemap", started: true)
            }
            // An exited process has no mm: pagemap reads return nothing.
            if got == 0 { throw .processExited(pid: pid) }
            let count = got / 8
            for i in 0..<count { body(done + i, PageResidency(pagemapEntry: entries[i])) }
            done += count
        }
    }
}

/// A contiguous run of pages of another process: `pageCount` pages from `address`.
struct RemoteSegment: Equatable {
    /// The first address.
    var address: UInt
    /// The length in bytes, a multiple of the page size.
    var length: Int
}

/// Reads pages of another process without stopping it.
///
/// Implementations: ``VMReadvPageReader`` (process_vm_readv), ``ProcMemPageReader``
/// (`/proc/PID/mem`), and test hooks that wrap them.
protocol ProcessPageReader: AnyObject {
    /// Reads `segments` back to back into `buffer` (whose size is at least their total length)
    /// and returns how many bytes were read: a prefix of the segments. A short count means the
    /// page at that point could not be read (it was unmapped meanwhile); the caller skips it.
    ///
    /// - Throws: ``ProcessMemoryError/processExited(pid:)`` when the process is gone,
    ///   ``ProcessMemoryError/permissionDenied(pid:operation:)`` when access is refused.
    func read(_ segments: UnsafeBufferPointer<RemoteSegment>, into buffer: UnsafeMutableRawBufferPointer)
        throws(ProcessMemoryError) -> Int
}

/// `process_vm_readv(pid, local, liovcnt, remote, riovcnt, flags)`.
typealias ProcessVMReadv = @convention(c) (
    pid_t, UnsafePointer<iovec>?, UInt, UnsafePointer<iovec>?, UInt, UInt
) -> Int

/// Reads pages with `process_vm_readv`, all segments of a batch in one system call.
///
/// Owns a preallocated iovec array of `maxSegments` entries for the life of the reader.
final class VMReadvPageReader: ProcessPageReader {
    private let pid: Int32
    private let local: UnsafeMutablePointer<iovec>
    private let remote: UnsafeMutablePointer<iovec>
    private let maxSegments: Int

    private let readv: ProcessVMReadv

    /// The C library's `process_vm_readv` (Glibc's Swift module does not export it), or `nil`
    /// when this C library has none.
    static let systemReadv: ProcessVMReadv? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "process_vm_readv") else { return nil }
        return unsafeBitCast(symbol, to: ProcessVMReadv.self)
    }()

    /// A reader of `pid` for batches of up to `maxSegments` segments, or `nil` when the C
    /// library has no `process_vm_readv` (use ``ProcMemPageReader``).
    init?(pid: Int32, maxSegments: Int = 256) {
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
    func checkInvariants() {
        #if DEBUG
        precondition(maxSegments >= 1, "VMReadvPageReader needs room for one segment")
        #endif
    }

    func read(_ segments: UnsafeBufferPointer<RemoteSegment>, into buffer: UnsafeMutableRawBufferPointer)
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
            let got = readv(pid_t(pid), local, 1, remote, UInt(count), 0)
            if got < 0 {
                let code = errno
                if code == EINTR { continue }
                // EFAULT: the first segment's first page is gone; report the prefix read so far.
                if code == EFAULT { return total }
                throw ProcessMemoryError(errno: code, pid: pid, operation: "process_vm_readv", started: true)
            }
            total += got
            if got < length { return total }
            first += count
        }
        return total
    }
}

/// Reads pages with `pread` on `/proc/PID/mem`, one call per segment.
///
/// Owns one open descriptor for the life of the reader.
final class ProcMemPageReader: ProcessPageReader {
    private let pid: Int32
    private let fd: Int32

    /// Opens `/proc/PID/mem`.
    init(pid: Int32) throws(ProcessMemoryError) {
        let fd = open("/proc/\(pid)/mem", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ProcessMemoryError(errno: errno, pid: pid, operation: "open /proc/\(pid)/mem", started: false)
        }
        self.pid = pid
        self.fd = fd
    }

    deinit { close(fd) }

    /// Debug builds: checks the descriptor is open.
    func checkInvariants() {
        #if DEBUG
        precondition(fd >= 0, "ProcMemPageReader lost its descriptor")
        #endif
    }

    func read(_ segments: UnsafeBufferPointer<RemoteSegment>, into buffer: UnsafeMutableRawBufferPointer)
        throws(ProcessMemoryError) -> Int
    {
        var total = 0
        for segment in segments {
            precondition(total + segment.length <= buffer.count, "reader buffer smaller than the segments")
            var done = 0
            while done < segment.length {
                let got = pread(
                    fd, buffer.baseAddress! + total + done, segment.length - done,
                    off_t(Int(bitPattern: segment.address + UInt(done))))
                if got < 0 {
                    let code = errno
                    if code == EINTR { continue }
                    if code == EIO || code == EFAULT { return total + done }
                    throw ProcessMemoryError(errno: code, pid: pid, operation: "read /proc/\(pid)/mem", started: true)
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
