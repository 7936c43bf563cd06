#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// `O_DIRECT`, which Swift's Glibc module does not export (it sits behind `_GNU_SOURCE`).
#if arch(arm64) || arch(arm)
private let openDirectFlag: Int32 = 0o200000
#elseif arch(powerpc64) || arch(powerpc64le)
private let openDirectFlag: Int32 = 0o400000
#else
private let openDirectFlag: Int32 = 0o40000
#endif

/// What went wrong during direct I/O on a block device, and what to do.
enum DirectIOError: Error, Equatable, CustomStringConvertible {
    /// The device could not be opened.
    case open(path: String, errno: Int32)
    /// A read, write or fsync failed.
    case io(path: String, operation: String, offset: Int, errno: Int32)
    /// The device ended before the data did.
    case endOfDevice(path: String, operation: String, offset: Int)
    /// A size or length that direct I/O cannot move (not a multiple of the block size).
    case misaligned(what: String, value: Int, alignment: Int)
    /// The aligned buffer could not be allocated.
    case allocation(bytes: Int, errno: Int32)

    var description: String {
        switch self {
        case .open(let path, let code):
            "cannot open \(path) for direct I/O: \(String(cString: strerror(code))) (errno \(code))"
        case .io(let path, let operation, let offset, let code):
            "\(operation) of \(path) at offset \(offset) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .endOfDevice(let path, let operation, let offset):
            "\(operation) of \(path) stopped at offset \(offset): the device is smaller than the data"
        case .misaligned(let what, let value, let alignment):
            "\(what) is \(value) bytes, not a multiple of \(alignment): direct I/O moves whole blocks"
        case .allocation(let bytes, let code):
            "cannot allocate an aligned buffer of \(bytes) bytes: \(String(cString: strerror(code)))"
        }
    }
}

/// A heap buffer whose start is aligned for direct I/O.
///
/// Memory: allocated with `posix_memalign` in `init`, owned by this object alone, freed in
/// `deinit`; ``bytes`` is valid exactly as long as the object lives and must not escape it.
/// Invariant: `bytes.baseAddress` is a multiple of ``alignment`` and `bytes.count` is the size
/// asked for; the methods never change either.
final class AlignedBuffer {
    /// The buffer (aligned, ``byteCount`` bytes, zero-filled at creation).
    let bytes: UnsafeMutableRawBufferPointer
    /// The alignment of `bytes.baseAddress`.
    let alignment: Int

    /// Allocates `byteCount` bytes aligned to `alignment` (a power of two, at least a pointer).
    init(byteCount: Int, alignment: Int) throws(DirectIOError) {
        precondition(byteCount > 0 && alignment >= MemoryLayout<UnsafeRawPointer>.size && alignment & (alignment - 1) == 0,
                     "AlignedBuffer needs a positive size and a power-of-two alignment")
        var pointer: UnsafeMutableRawPointer?
        let code = posix_memalign(&pointer, alignment, byteCount)
        guard code == 0, let pointer else { throw .allocation(bytes: byteCount, errno: code) }
        memset(pointer, 0, byteCount)
        bytes = UnsafeMutableRawBufferPointer(start: pointer, count: byteCount)
        self.alignment = alignment
    }

    /// The size in bytes.
    var byteCount: Int { bytes.count }

    deinit { free(bytes.baseAddress) }

    /// Checks the alignment invariant (debug builds only).
    func checkInvariants() {
        #if DEBUG
        let address = Int(bitPattern: bytes.baseAddress)
        precondition(address % alignment == 0, "AlignedBuffer lost its alignment")
        precondition(bytes.count > 0, "AlignedBuffer is empty")
        #endif
    }
}

/// A block device opened with `O_DIRECT`, moving data through one aligned buffer in chunks
/// (1 MiB by default, like `dd bs=1M oflag=direct`), with the transfer timed.
///
/// Safety of `@unchecked Sendable`: the descriptor is read and changed only under its mutex, and
/// each transfer holds the mutex for the duration of one system call, so ``detachToDevNull()``
/// and ``close()`` (which another thread may call, e.g. the signal cleanup) never race with a
/// transfer. The aligned buffer is used by the transfer methods only, which the owner calls
/// from one thread at a time.
final class DirectIODevice: @unchecked Sendable {
    /// The device node.
    let path: String
    /// Bytes per transfer (a multiple of ``blockSize``).
    let chunkSize: Int
    /// The logical block size direct I/O must respect (zram: 4096).
    let blockSize: Int

    /// The open descriptor, or -1 once closed.
    private let descriptor: Mutex<Int32>
    private let buffer: AlignedBuffer

    /// Opens `path` read-write with `O_DIRECT`.
    init(path: String, chunkSize: Int = 1 << 20, blockSize: Int = 4096) throws(DirectIOError) {
        guard chunkSize > 0, chunkSize % blockSize == 0 else {
            throw .misaligned(what: "the chunk size", value: chunkSize, alignment: blockSize)
        }
        buffer = try AlignedBuffer(byteCount: chunkSize, alignment: max(blockSize, 4096))
        let fd = open(path, O_RDWR | O_CLOEXEC | openDirectFlag)
        guard fd >= 0 else { throw .open(path: path, errno: errno) }
        self.path = path
        self.chunkSize = chunkSize
        self.blockSize = blockSize
        descriptor = Mutex(fd)
    }

    deinit { close() }

    /// Writes `data` from offset 0 in chunks, then fsyncs; returns the time taken for both.
    /// The copy of each chunk into the aligned buffer is timed too, as dd's read is.
    func write(_ data: UnsafeRawBufferPointer) throws(DirectIOError) -> Duration {
        try checkLength(data.count)
        let clock = ContinuousClock()
        let start = clock.now
        var offset = 0
        while offset < data.count {
            let length = min(chunkSize, data.count - offset)
            buffer.bytes.baseAddress!.copyMemory(from: data.baseAddress! + offset, byteCount: length)
            try transfer(length, at: offset, operation: "write")
            offset += length
        }
        try sync()
        return clock.now - start
    }

    /// Reads `byteCount` bytes from offset 0 in chunks, keeping nothing; returns the time taken.
    func read(byteCount: Int) throws(DirectIOError) -> Duration {
        try checkLength(byteCount)
        let clock = ContinuousClock()
        let start = clock.now
        var offset = 0
        while offset < byteCount {
            let length = min(chunkSize, byteCount - offset)
            try transfer(length, at: offset, operation: "read")
            offset += length
        }
        return clock.now - start
    }

    /// Reads the device back from offset 0 and counts the `pageSize` pages that differ from
    /// `data` (untimed: this is verification).
    func mismatchedPages(comparing data: UnsafeRawBufferPointer, pageSize: Int) throws(DirectIOError) -> Int {
        try checkLength(data.count)
        guard pageSize > 0, chunkSize % pageSize == 0, data.count % pageSize == 0 else {
            throw .misaligned(what: "the page size", value: pageSize, alignment: blockSize)
        }
        var mismatches = 0
        var offset = 0
        while offset < data.count {
            let length = min(chunkSize, data.count - offset)
            try transfer(length, at: offset, operation: "read")
            var page = 0
            while page < length {
                if memcmp(buffer.bytes.baseAddress! + page, data.baseAddress! + offset + page, pageSize) != 0 {
                    mismatches += 1
                }
                page += pageSize
            }
            offset += length
        }
        return mismatches
    }

    /// Closes the device (idempotent).
    func close() {
        descriptor.withLock { fd in
            if fd >= 0 { _ = Glibc.close(fd) }
            fd = -1
        }
    }

    /// Points the descriptor at /dev/null, dropping this process's hold on the device as soon
    /// as a transfer in flight ends, without freeing the descriptor number (so a later transfer
    /// by the owner cannot land in a file opened meanwhile). Used by interrupt cleanup.
    func detachToDevNull() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            let null = open("/dev/null", O_RDWR | O_CLOEXEC)
            if null >= 0 {
                _ = dup2(null, fd)
                _ = Glibc.close(null)
            } else {
                _ = Glibc.close(fd)
                fd = -1
            }
        }
    }

    /// Whether the descriptor is still open.
    var isOpen: Bool { descriptor.withLock { $0 >= 0 } }

    /// Checks the buffer's invariants (debug builds only).
    func checkInvariants() {
        buffer.checkInvariants()
        #if DEBUG
        precondition(buffer.byteCount == chunkSize && chunkSize % blockSize == 0, "DirectIODevice buffer size drifted")
        #endif
    }

    private func checkLength(_ byteCount: Int) throws(DirectIOError) {
        guard byteCount >= 0, byteCount % blockSize == 0 else {
            throw .misaligned(what: "the transfer", value: byteCount, alignment: blockSize)
        }
    }

    /// Moves `length` bytes between the buffer and the device at `offset` (whole, or throws).
    private func transfer(_ length: Int, at offset: Int, operation: String) throws(DirectIOError) {
        let isWrite = operation == "write"
        var done = 0
        while done < length {
            let (result, code): (Int, Int32) = descriptor.withLock { fd in
                guard fd >= 0 else { return (-1, EBADF) }
                let pointer = buffer.bytes.baseAddress! + done
                let n = isWrite
                    ? pwrite(fd, pointer, length - done, off_t(offset + done))
                    : pread(fd, pointer, length - done, off_t(offset + done))
                return (n, n < 0 ? errno : 0)
            }
            if result < 0 {
                if code == EINTR { continue }
                throw .io(path: path, operation: operation, offset: offset + done, errno: code)
            }
            if result == 0 { throw .endOfDevice(path: path, operation: operation, offset: offset + done) }
            done += result
        }
    }

    private func sync() throws(DirectIOError) {
        let (result, code): (Int32, Int32) = descriptor.withLock { fd in
            guard fd >= 0 else { return (-1, EBADF) }
            let r = fsync(fd)
            return (r, r < 0 ? errno : 0)
        }
        if result < 0 { throw .io(path: path, operation: "fsync", offset: 0, errno: code) }
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}
