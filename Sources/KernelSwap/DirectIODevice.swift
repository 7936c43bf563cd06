import Synchronization
import SystemPackage
import SystemSupport

/// A block device opened with `O_DIRECT`, moving data through one aligned buffer in chunks
/// (1 MiB by default, like `dd bs=1M oflag=direct`), with the transfer timed.
///
/// Safety of `@unchecked Sendable`: the descriptor is read and changed only under its mutex, and
/// each transfer holds the mutex for the duration of one system call, so ``detachToDevNull()``
/// and ``close()`` (which another thread may call, e.g. the signal cleanup) never race with a
/// transfer. The aligned buffer is used by the transfer methods only, which the owner calls
/// from one thread at a time.
public final class DirectIODevice: @unchecked Sendable {
    /// The device node.
    public let path: String
    /// Bytes per transfer (a multiple of ``blockSize``).
    public let chunkSize: Int
    /// The logical block size direct I/O must respect (zram: 4096).
    public let blockSize: Int

    /// The open descriptor, or -1 once closed.
    private let descriptor: Mutex<Int32>
    private let buffer: AlignedBuffer

    /// Opens `path` read-write with `O_DIRECT` (SystemSupport's `DirectIOFlag`).
    public init(path: String, chunkSize: Int = 1 << 20, blockSize: Int = 4096) throws(DirectIOError) {
        guard chunkSize > 0, chunkSize % blockSize == 0 else {
            throw .misaligned(what: "the chunk size", value: chunkSize, alignment: blockSize)
        }
        buffer = try AlignedBuffer(byteCount: chunkSize, alignment: max(blockSize, 4096))
        let fd: Int32
        do { fd = try SystemCall.retrying { open(path, O_RDWR | O_CLOEXEC) } } catch { throw .open(path: path, errno: error) }
        do { try DirectIOFlag.enable(on: fd) } catch {
            _ = Glibc.close(fd)
            throw .open(path: path, errno: error)
        }
        self.path = path
        self.chunkSize = chunkSize
        self.blockSize = blockSize
        descriptor = Mutex(fd)
    }

    deinit { close() }

    /// Writes `data` from offset 0 in chunks, then fsyncs; returns the time taken for both.
    /// The copy of each chunk into the aligned buffer is timed too, as dd's read is.
    public func write(_ data: UnsafeRawBufferPointer) throws(DirectIOError) -> Duration {
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
    public func read(byteCount: Int) throws(DirectIOError) -> Duration {
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
    public func mismatchedPages(comparing data: UnsafeRawBufferPointer, pageSize: Int) throws(DirectIOError) -> Int {
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
    public func close() {
        descriptor.withLock { fd in
            if fd >= 0 { _ = Glibc.close(fd) }
            fd = -1
        }
    }

    /// Points the descriptor at /dev/null, dropping this process's hold on the device as soon
    /// as a transfer in flight ends, without freeing the descriptor number (so a later transfer
    /// by the owner cannot land in a file opened meanwhile). Used by interrupt cleanup.
    public func detachToDevNull() {
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
    public var isOpen: Bool { descriptor.withLock { $0 >= 0 } }

    /// Checks the buffer's invariants (debug builds only).
    public func checkInvariants() {
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

    /// Runs `call` on the open descriptor under the mutex (resuming after signals), or fails
    /// with EBADF once the descriptor is closed.
    private func onDescriptor(_ call: (Int32) -> Int) throws(Errno) -> Int {
        try descriptor.withLock { fd throws(Errno) -> Int in
            guard fd >= 0 else { throw Errno.badFileDescriptor }
            return try SystemCall.retrying { call(fd) }
        }
    }

    /// Moves `length` bytes between the buffer and the device at `offset` (whole, or throws).
    private func transfer(_ length: Int, at offset: Int, operation: String) throws(DirectIOError) {
        let isWrite = operation == "write"
        var done = 0
        while done < length {
            let pointer = buffer.bytes.baseAddress! + done
            let position = off_t(offset + done)
            let result: Int
            do {
                result = try onDescriptor { fd in
                    isWrite ? pwrite(fd, pointer, length - done, position) : pread(fd, pointer, length - done, position)
                }
            } catch {
                throw .io(path: path, operation: operation, offset: offset + done, errno: error)
            }
            if result == 0 { throw .endOfDevice(path: path, operation: operation, offset: offset + done) }
            done += result
        }
    }

    private func sync() throws(DirectIOError) {
        do { _ = try onDescriptor { Int(fsync($0)) } } catch { throw .io(path: path, operation: "fsync", offset: 0, errno: error) }
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}
