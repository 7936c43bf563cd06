import Synchronization
import SystemPackage
import SystemSupport

/// A page-granular file: whole pages read and written at a block index (block `i` lives at
/// byte offset `i * pageSize`). ``BackingFile`` is the real one; wrappers such as
/// ``FaultInjectingBackingFile`` stand in for it in tests.
///
/// Conformers are shared between threads: operations on different blocks may run in parallel.
/// Every operation either completes or throws ``PageStoreError/io(errno:operation:)`` (or a
/// size/range error for bad arguments) with a message that says what was being done.
public protocol PageFile: AnyObject, Sendable {
    /// The size of every block, the page size: a power of two from 4 KiB to 64 KiB.
    var pageSize: Int { get }

    /// Reads block `index` into `buffer` (exactly ``pageSize`` bytes).
    ///
    /// A block inside the file that was never written (or was punched) reads as zeros; a block
    /// reaching past the end of the file throws `.io(errno: EIO, ...)`.
    func readBlock(_ index: Int, into buffer: UnsafeMutableRawBufferPointer) throws(PageStoreError)

    /// Writes `page` (exactly ``pageSize`` bytes) to block `index`, growing the file if needed.
    func writeBlock(_ page: UnsafeRawBufferPointer, at index: Int) throws(PageStoreError)

    /// Frees the storage of `count` blocks from `index` (the file keeps its size; the blocks
    /// read as zeros afterwards). Where the system cannot punch holes this does nothing and
    /// returns `false`; it returns `true` when the storage was freed.
    @discardableResult
    func punchHole(at index: Int, count: Int) throws(PageStoreError) -> Bool

    /// Flushes written blocks to stable storage (`fsync`).
    func sync() throws(PageStoreError)

    /// Sets the file's size to `blockCount` blocks (shrinking frees the blocks past it).
    func truncate(toBlocks blockCount: Int) throws(PageStoreError)

    /// The I/O counters so far.
    var ioCounters: PageFileCounters { get }
}

/// A page file's I/O counters: calls that completed and calls that failed.
public struct PageFileCounters: Sendable, Equatable {
    /// Blocks read successfully.
    public var reads = 0
    /// Blocks written successfully.
    public var writes = 0
    /// Hole punches that freed storage.
    public var punches = 0
    /// `fsync` calls that succeeded.
    public var syncs = 0
    /// Reads that threw.
    public var failedReads = 0
    /// Writes that threw.
    public var failedWrites = 0

    /// All zero.
    public init() {}
}

/// A file of pages on disk, read and written with `pread`/`pwrite` at block granularity.
///
/// ```swift
/// let file = try BackingFile.create(at: "/var/tmp/uswap.swap", blockCount: 1024, options: [.removeOnClose])
/// try file.writeBlock(page, at: 7)
/// try file.readBlock(7, into: buffer)
/// try file.punchHole(at: 7, count: 1)   // storage freed, reads as zeros
/// ```
///
/// **Making the file.** ``create(at:existing:pageSize:blockCount:options:)`` makes a new file
/// (mode 0600, `O_CREAT | O_EXCL | O_NOFOLLOW`): a symbolic link at the path is never followed,
/// and an existing file that holds data is refused unless the caller passes
/// `ExistingFilePolicy.replaceRegularFile` (`--force`). ``unnamed(in:pageSize:blockCount:options:)``
/// makes an `O_TMPFILE` file with no name, which nothing outlives (not even SIGKILL);
/// ``temporary(in:prefix:pageSize:blockCount:options:)`` makes one of those where the file system
/// can, else a uniquely named file removed on close. ``init(path:pageSize:blockCount:options:)``
/// opens a file that may already exist (never through a link at the path).
///
/// **Ownership.** The object owns its file descriptor (opened with `O_CLOEXEC`) and closes it in
/// ``close()`` or, failing that, in `deinit`. With ``Options/removeOnClose`` the file's name is
/// removed then too, and by ``removeName()`` (a signal-cleanup action may call it): only while
/// the name still points at this file (`OwnedFileEntry`), never whatever else sits there now.
/// Buffers passed in belong to the caller and are only used during the call.
///
/// **Thread safety.** `pread`/`pwrite` at distinct offsets are safe to run in parallel; the
/// descriptor is an atomic, counters are atomics. ``close()`` must not race with other
/// operations on the same object (the swap layer closes a file only when it is done with it);
/// operations after ``close()`` throw `.io(errno: EBADF, ...)`.
///
/// **Short I/O.** A read or write that transfers fewer bytes than asked is continued until the
/// whole page is done; `EINTR` is retried (`SystemCall.retrying`, as every call here). A read
/// that reaches end of file throws `.io(EIO)`.
public final class BackingFile: PageFile, @unchecked Sendable {
    // @unchecked Sendable: the descriptors and counters are atomics; `path`, `pageSize`,
    // `options` and `entry` never change after init (the entry is Sendable and removes once).

    /// How to open a file.
    public struct Options: OptionSet, Sendable, Hashable {
        /// The option bits.
        public let rawValue: Int
        /// Makes an option set from raw bits.
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// ``init(path:pageSize:blockCount:options:)``: create the file if it does not exist
        /// (`O_CREAT`, mode 0600). To make a new file, prefer
        /// ``BackingFile/create(at:existing:pageSize:blockCount:options:)``.
        public static let create = Options(rawValue: 1 << 0)
        /// ``init(path:pageSize:blockCount:options:)``: fail if the file exists (`O_EXCL`, with
        /// ``create``).
        public static let exclusive = Options(rawValue: 1 << 1)
        /// ``init(path:pageSize:blockCount:options:)``: empty the file on open (`O_TRUNC`).
        public static let truncate = Options(rawValue: 1 << 2)
        /// Remove the file's name when the file is closed (or the object is released), if the
        /// name still points at this file.
        public static let removeOnClose = Options(rawValue: 1 << 3)
        /// Keep the file's pages out of the page cache, as the kernel's swap I/O does, so that
        /// a page moved to the file really leaves memory: reads go through a second open file
        /// description of this same file, made from the descriptor (never by path) and put in
        /// `O_DIRECT` mode with `fcntl` (when the file system takes it and the buffer is
        /// aligned; otherwise a buffered read whose cached copy is dropped), and writes stay
        /// buffered but start their writeback at once and are dropped from the cache
        /// ``BackingFile/uncachedWriteDepth`` writes later. A store never waits for the disk,
        /// like the kernel's asynchronous swap writes, and the cache holds at most that many
        /// of the file's blocks (``cachedBytes()`` reports it).
        public static let uncached = Options(rawValue: 1 << 4)
    }

    /// With ``Options/uncached``: how many recently written blocks may stay in the page cache.
    public static var uncachedWriteDepth: Int { CacheDropper.depth }

    /// The path the file was opened at (for an unnamed file: its directory and `(unnamed)`).
    public let path: String
    /// The size of every block.
    public let pageSize: Int
    /// The options it was opened with.
    public let options: Options
    /// The file's name, removed on close with ``Options/removeOnClose``; nil for an unnamed file
    /// or when the name is not to be removed.
    private let entry: OwnedFileEntry?

    private let descriptor: Atomic<Int32>
    /// The `O_DIRECT` descriptor for reads with ``Options/uncached``, or -1.
    private let directDescriptor: Atomic<Int32>
    /// With ``Options/uncached`` on Linux: what drops written pages from the cache.
    private let dropper: CacheDropper?
    private let reads = Atomic<Int>(0)
    private let writes = Atomic<Int>(0)
    private let punches = Atomic<Int>(0)
    private let syncs = Atomic<Int>(0)
    private let failedReads = Atomic<Int>(0)
    private let failedWrites = Atomic<Int>(0)

    /// Opens the file at `path` for reading and writing (creating it with ``Options/create``).
    /// A symbolic link at the path is never followed (`O_NOFOLLOW`), and only a regular file is
    /// accepted. To make a new file, prefer ``create(at:existing:pageSize:blockCount:options:)``.
    ///
    /// - Parameters:
    ///   - path: the file's path.
    ///   - pageSize: the block size, a power of two from 512 bytes to 1 MiB.
    ///   - blockCount: when given, the file is set to exactly this many blocks (sparse: no disk
    ///     space is used until blocks are written).
    ///   - options: how to open it (``Options``).
    /// - Throws: ``PageStoreError/invalidConfiguration(_:)`` for a bad page size or block count,
    ///   ``PageStoreError/io(errno:operation:)`` when the file cannot be opened or sized (`ELOOP`
    ///   for a link at the path, `EINVAL` for something other than a regular file).
    public convenience init(path: String, pageSize: Int = 4096, blockCount: Int? = nil, options: Options = [.create])
        throws(PageStoreError)
    {
        try Self.check(pageSize: pageSize, blockCount: blockCount)
        var flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW
        if options.contains(.create) { flags |= O_CREAT }
        if options.contains(.exclusive) { flags |= O_EXCL }
        if options.contains(.truncate) { flags |= O_TRUNC }
        let fd: Int32
        do { fd = try SystemCall.retrying { open(path, flags, 0o600) } } catch {
            throw .io(errno: error.rawValue, operation: "open \(path)")
        }
        var entry: OwnedFileEntry? = nil
        do throws(PageStoreError) {
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw .io(errno: SystemCall.lastError.rawValue, operation: "fstat \(path)") }
            guard info.st_mode & S_IFMT == S_IFREG else {
                throw .io(errno: EINVAL, operation: "open \(path): not a regular file")
            }
            if options.contains(.removeOnClose) {
                do { entry = try OwnedFileEntry(path: path, naming: fd) } catch {
                    throw .io(errno: EINVAL, operation: "open \(path): \(error)")
                }
            }
        } catch {
            Self.closeDescriptor(fd)
            throw error
        }
        try self.init(adopting: fd, path: path, entry: entry, pageSize: pageSize, blockCount: blockCount, options: options)
    }

    /// Makes a new file at `path` (mode 0600, `O_EXCL | O_NOFOLLOW`, see `CreatedFile`): a
    /// symbolic link there is refused, never followed; an existing regular file is replaced
    /// only when it is empty and this user's, or with `existing: .replaceRegularFile`.
    ///
    /// - Parameters:
    ///   - path: where to make it.
    ///   - existing: what to do with a regular file already there (`ExistingFilePolicy`).
    ///   - pageSize: the block size, a power of two from 512 bytes to 1 MiB.
    ///   - blockCount: when given, the file is set to this many blocks (sparse).
    ///   - options: ``Options/removeOnClose`` (the default) and ``Options/uncached``; the
    ///     opening options (create, exclusive, truncate) are ignored.
    /// - Throws: ``PageStoreError/fileCreation(_:)`` when the file cannot be made (the message
    ///   says why and what to do), ``PageStoreError/invalidConfiguration(_:)`` for bad sizes.
    public static func create(
        at path: String, existing: ExistingFilePolicy = .refuseNonEmpty, pageSize: Int = 4096, blockCount: Int? = nil,
        options: Options = [.removeOnClose]
    ) throws(PageStoreError) -> BackingFile {
        try check(pageSize: pageSize, blockCount: blockCount)
        let made: CreatedFile
        do { made = try CreatedFile.create(at: path, existing: existing) } catch { throw .fileCreation(error) }
        return try adopt(made, path: path, pageSize: pageSize, blockCount: blockCount, options: options)
    }

    /// Makes an unnamed file (`O_TMPFILE`, mode 0600) on the file system of `directory`: it has
    /// no name, so nothing is left once it is closed or the process ends, even by SIGKILL.
    ///
    /// - Throws: ``PageStoreError/fileCreation(_:)`` with
    ///   `FileCreationError.unnamedFilesUnsupported(directory:errno:)` where the file system
    ///   cannot (then use ``create(at:existing:pageSize:blockCount:options:)``).
    public static func unnamed(
        in directory: String, pageSize: Int = 4096, blockCount: Int? = nil, options: Options = []
    ) throws(PageStoreError) -> BackingFile {
        try check(pageSize: pageSize, blockCount: blockCount)
        let made: CreatedFile
        do { made = try CreatedFile.unnamed(in: directory) } catch { throw .fileCreation(error) }
        let trimmed = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        return try adopt(made, path: "\(trimmed)/(unnamed)", pageSize: pageSize, blockCount: blockCount, options: options)
    }

    /// Makes a file that lives only as long as this object: unnamed (``unnamed(in:pageSize:blockCount:options:)``)
    /// where the file system of `directory` can, else a new file with a unique name in it,
    /// removed when closed. `options` adds to that (e.g. ``Options/uncached``).
    ///
    /// - Throws: ``PageStoreError/fileCreation(_:)`` when the file cannot be made.
    public static func temporary(
        in directory: String = "/tmp", prefix: String = "uswap", pageSize: Int = 4096, blockCount: Int? = nil,
        options: Options = []
    ) throws(PageStoreError) -> BackingFile {
        do {
            return try unnamed(in: directory, pageSize: pageSize, blockCount: blockCount, options: options)
        } catch .fileCreation(.unnamedFilesUnsupported) {
            var generator = SystemRandomNumberGenerator()
            let tag = String(UInt64.random(in: 0...UInt64.max, using: &generator), radix: 36)
            return try create(
                at: "\(directory)/\(prefix)-\(getpid())-\(tag)", pageSize: pageSize, blockCount: blockCount,
                options: options.union(.removeOnClose))
        }
    }

    /// A page file over `made`'s descriptor (closed, and its name removed, if sizing fails).
    private static func adopt(
        _ made: CreatedFile, path: String, pageSize: Int, blockCount: Int?, options: Options
    ) throws(PageStoreError) -> BackingFile {
        let entry = options.contains(.removeOnClose) ? made.entry : nil
        do {
            return try BackingFile(
                adopting: made.descriptor.rawValue, path: path, entry: entry, pageSize: pageSize, blockCount: blockCount,
                options: options)
        } catch {
            // A file this call made must not outlive the failure (the init closed the descriptor).
            made.entry?.remove()
            throw error
        }
    }

    /// Takes over `fd` (an open regular file): sets up the direct-read description and the cache
    /// dropper for ``Options/uncached``, and the size. Closes `fd` (removing `entry`) if sizing fails.
    private init(
        adopting fd: Int32, path: String, entry: OwnedFileEntry?, pageSize: Int, blockCount: Int?, options: Options
    ) throws(PageStoreError) {
        self.path = path
        self.pageSize = pageSize
        self.options = options
        self.entry = entry
        descriptor = Atomic(fd)
        // O_DIRECT needs the page size to be a multiple of the device's block (512 or 4096). It is
        // a flag of the open file description, shared by duplicated descriptors, so reads get a
        // description of their own, reopened from our descriptor; where the file system refuses
        // O_DIRECT (an old tmpfs), reads go through the cache.
        directDescriptor = Atomic(options.contains(.uncached) && pageSize >= 4096 ? Self.directReadDescriptor(for: fd) : -1)
        dropper = options.contains(.uncached) ? CacheDropper.make(fd: fd) : nil
        if let blockCount {
            do throws(PageStoreError) { try truncate(toBlocks: blockCount) } catch {
                close()
                throw error
            }
        }
    }

    /// A read-only descriptor of the same file as `fd` with `O_DIRECT` set (`fcntl`), or -1.
    /// It is a new open file description of that very file (`/proc/self/fd/N`, checked to be the
    /// same inode), never an open of the path, which could by now name something else.
    private static func directReadDescriptor(for fd: Int32) -> Int32 {
        #if os(Linux)
        guard let identity = try? FileIdentity(of: fd),
            let reopened = try? SystemCall.retrying({ open("/proc/self/fd/\(fd)", O_RDONLY | O_CLOEXEC) })
        else { return -1 }
        guard (try? FileIdentity(of: reopened)) == identity, (try? DirectIOFlag.enable(on: reopened)) != nil else {
            closeDescriptor(reopened)
            return -1
        }
        return reopened
        #else
        return -1
        #endif
    }

    /// Refuses a bad page size or a negative block count.
    private static func check(pageSize: Int, blockCount: Int?) throws(PageStoreError) {
        guard pageSize >= 512 && pageSize & (pageSize - 1) == 0 && pageSize <= 1 << 20 else {
            throw .invalidConfiguration("page size \(pageSize) is not a power of two from 512 to 1 MiB: use 4096")
        }
        if let blockCount, blockCount < 0 {
            throw .invalidConfiguration("block count \(blockCount) is negative: give 0 or more blocks")
        }
    }

    deinit { close() }

    /// The file descriptor, or -1 once closed.
    public var fileDescriptor: Int32 { descriptor.load(ordering: .acquiring) }

    /// Whether ``close()`` has run.
    public var isClosed: Bool { fileDescriptor < 0 }

    /// Closes the descriptor (and with ``Options/removeOnClose`` first removes the file's name,
    /// if it still points at this file). Safe to call twice; must not race with other
    /// operations on this file.
    public func close() {
        let direct = directDescriptor.exchange(-1, ordering: .acquiringAndReleasing)
        if direct >= 0 { Self.closeDescriptor(direct) }
        let fd = descriptor.exchange(-1, ordering: .acquiringAndReleasing)
        guard fd >= 0 else { return }
        removeName()  // while the file is open: its inode cannot have been reused
        Self.closeDescriptor(fd)
    }

    /// With ``Options/removeOnClose``: removes the file's name now if it still points at this
    /// file (a name that was replaced meanwhile is left alone), once; the file stays usable
    /// through its descriptor. Safe from any thread, e.g. a SIGINT/SIGTERM cleanup action.
    /// - Returns: what happened (`FileEntryRemoval.alreadyGone` without the option).
    @discardableResult
    public func removeName() -> FileEntryRemoval {
        entry?.remove() ?? .alreadyGone
    }

    /// Whether reads go through the `O_DIRECT` description (``Options/uncached`` on a file system
    /// that takes direct I/O).
    var readsDirectly: Bool { directDescriptor.load(ordering: .relaxed) >= 0 }

    /// Whether the file has a name that ``removeName()`` would remove (``Options/removeOnClose``
    /// and the name still points at this file).
    public var hasRemovableName: Bool { entry?.namesOurFile ?? false }

    /// Checks the invariants (debug builds): an open file has a descriptor of a regular file, and
    /// a direct-read descriptor, when there is one, is of the same file.
    public func checkInvariants() {
        #if DEBUG
        let fd = fileDescriptor
        guard fd >= 0 else { return }
        let identity = try? FileIdentity(of: fd)
        precondition(identity != nil, "\(path): descriptor \(fd) is not open")
        let direct = directDescriptor.load(ordering: .relaxed)
        if direct >= 0 {
            let directIdentity = try? FileIdentity(of: direct)
            precondition(directIdentity == identity, "\(path): the direct-read descriptor is of another file")
        }
        entry?.checkInvariants()
        #endif
    }

    // MARK: PageFile

    /// Reads block `index` into `buffer`; see ``PageFile/readBlock(_:into:)``.
    public func readBlock(_ index: Int, into buffer: UnsafeMutableRawBufferPointer) throws(PageStoreError) {
        try checkArguments(index, buffer.count)
        let offset = index * pageSize
        let base = buffer.baseAddress!
        let direct = directDescriptor.load(ordering: .relaxed)
        // O_DIRECT takes only block-aligned buffers; an unaligned one reads through the cache.
        let useDirect = direct >= 0 && UInt(bitPattern: base) & 4095 == 0
        let fd = useDirect ? direct : fileDescriptor
        let outcome = Self.transferFully(byteCount: pageSize) { done in
            pread(fd, base + done, pageSize - done, off_t(offset + done))
        }
        if !useDirect && options.contains(.uncached) { Self.dropCache(fd, offset: offset, length: pageSize) }
        switch outcome {
        case .done:
            reads.add(1, ordering: .relaxed)
        case .failed(let code, let done):
            failedReads.add(1, ordering: .relaxed)
            throw .io(errno: code.rawValue, operation: "read of block \(index) (offset \(offset)) after \(done) of \(pageSize) bytes")
        case .endOfFile(let done):
            failedReads.add(1, ordering: .relaxed)
            throw .io(
                errno: EIO,
                operation: "read of block \(index) (offset \(offset)): end of file after \(done) of \(pageSize) bytes")
        }
    }

    /// Writes `page` to block `index`; see ``PageFile/writeBlock(_:at:)``.
    public func writeBlock(_ page: UnsafeRawBufferPointer, at index: Int) throws(PageStoreError) {
        try checkArguments(index, page.count)
        let fd = fileDescriptor
        let offset = index * pageSize
        let base = page.baseAddress!
        let outcome = Self.transferFully(byteCount: pageSize) { done in
            pwrite(fd, base + done, pageSize - done, off_t(offset + done))
        }
        switch outcome {
        case .done:
            writes.add(1, ordering: .relaxed)
            dropper?.noteWrite(block: index, pageSize: pageSize)
        case .failed(let code, let done):
            failedWrites.add(1, ordering: .relaxed)
            throw .io(errno: code.rawValue, operation: "write of block \(index) (offset \(offset)) after \(done) of \(pageSize) bytes")
        case .endOfFile(let done):
            failedWrites.add(1, ordering: .relaxed)
            throw .io(errno: EIO, operation: "write of block \(index) (offset \(offset)): no progress after \(done) of \(pageSize) bytes")
        }
    }

    /// Frees the storage of blocks `index..<index+count` with
    /// `fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)` on Linux; elsewhere does nothing
    /// and returns `false`. A file system that cannot punch (`EOPNOTSUPP`) also returns `false`.
    @discardableResult
    public func punchHole(at index: Int, count: Int) throws(PageStoreError) -> Bool {
        guard index >= 0, count >= 0, index <= Int.max / pageSize - count else {
            throw .invalidConfiguration("hole of \(count) blocks at block \(index) is out of range: give a non-negative range")
        }
        guard count > 0 else { return true }
        #if os(Linux)
        guard let fallocate = Self.fallocate else { return false }
        let fd = fileDescriptor
        do {
            _ = try SystemCall.retrying { fallocate(fd, 0x01 | 0x02, Int64(index * pageSize), Int64(count * pageSize)) }
        } catch {
            if error.rawValue == EOPNOTSUPP { return false }
            throw .io(errno: error.rawValue, operation: "punch a hole of \(count) blocks at block \(index)")
        }
        punches.add(1, ordering: .relaxed)
        return true
        #else
        return false
        #endif
    }

    /// Allocates disk space for blocks `0..<blockCount` (`fallocate` mode 0; the file grows to
    /// at least that size), as `fallocate -l` does for a swap file: later writes then never
    /// wait for block allocation. Returns `false` where the system or file system cannot.
    @discardableResult
    public func preallocate(blocks blockCount: Int) throws(PageStoreError) -> Bool {
        guard blockCount >= 0, blockCount <= Int.max / pageSize else {
            throw .invalidConfiguration("block count \(blockCount) is out of range: give 0 or more blocks")
        }
        guard blockCount > 0 else { return true }
        #if os(Linux)
        guard let fallocate = Self.fallocate else { return false }
        let fd = fileDescriptor
        do { _ = try SystemCall.retrying { fallocate(fd, 0, 0, Int64(blockCount * pageSize)) } } catch {
            if error.rawValue == EOPNOTSUPP { return false }
            throw .io(errno: error.rawValue, operation: "allocate \(blockCount) blocks for \(path)")
        }
        return true
        #else
        return false
        #endif
    }

    /// `fsync`s the file.
    public func sync() throws(PageStoreError) {
        let fd = fileDescriptor
        do { _ = try SystemCall.retrying { fsync(fd) } } catch { throw .io(errno: error.rawValue, operation: "fsync \(path)") }
        syncs.add(1, ordering: .relaxed)
    }

    /// Sets the file's size to `blockCount` blocks (`ftruncate`).
    public func truncate(toBlocks blockCount: Int) throws(PageStoreError) {
        guard blockCount >= 0, blockCount <= Int.max / pageSize else {
            throw .invalidConfiguration("block count \(blockCount) is out of range: give 0 or more blocks")
        }
        let fd = fileDescriptor
        do { _ = try SystemCall.retrying { ftruncate(fd, off_t(blockCount * pageSize)) } } catch {
            throw .io(errno: error.rawValue, operation: "truncate \(path) to \(blockCount) blocks")
        }
    }

    /// The file's size in whole blocks (`fstat`).
    public func blockCount() throws(PageStoreError) -> Int {
        try status().size / pageSize
    }

    /// Bytes of disk the file uses (`st_blocks * 512`): drops when holes are punched.
    public func allocatedBytes() throws(PageStoreError) -> Int {
        try status().allocated
    }

    /// The I/O counters so far.
    public var ioCounters: PageFileCounters {
        var c = PageFileCounters()
        c.reads = reads.load(ordering: .relaxed)
        c.writes = writes.load(ordering: .relaxed)
        c.punches = punches.load(ordering: .relaxed)
        c.syncs = syncs.load(ordering: .relaxed)
        c.failedReads = failedReads.load(ordering: .relaxed)
        c.failedWrites = failedWrites.load(ordering: .relaxed)
        return c
    }

    /// Bytes of this file in the page cache now (`mincore(2)` over a mapping of the file), or
    /// nil where the system cannot tell. Benchmarks add it to the memory a file tier uses. Not
    /// for hot paths: it maps the file and allocates one byte per block.
    public func cachedBytes() -> Int? {
        #if os(Linux)
        guard let size = try? status().size, size > 0 else { return 0 }
        let fd = fileDescriptor
        guard let mapping = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), mapping != MAP_FAILED else { return nil }
        defer { munmap(mapping, size) }
        let systemPage = AnonymousMapping.pageSize
        var resident = [UInt8](repeating: 0, count: (size + systemPage - 1) / systemPage)
        guard mincore(mapping, size, &resident) == 0 else { return nil }
        return resident.reduce(0) { $0 + Int($1 & 1) } * systemPage
        #else
        return nil
        #endif
    }

    // MARK: Helpers

    /// `posix_fadvise(POSIX_FADV_DONTNEED)` over `length` bytes at `offset` (0: to the end);
    /// nothing where the system has no such call.
    @inline(__always)
    static func dropCache(_ fd: Int32, offset: Int, length: Int) {
        #if os(Linux)
        _ = posix_fadvise(fd, off_t(offset), off_t(length), 4)  // POSIX_FADV_DONTNEED
        #endif
    }

    /// Closes `fd`, ignoring the outcome (Linux frees the descriptor even when close fails).
    private static func closeDescriptor(_ fd: Int32) {
        try? FileDescriptor(rawValue: fd).close()
    }

    private func status() throws(PageStoreError) -> (size: Int, allocated: Int) {
        var info = stat()
        guard fstat(fileDescriptor, &info) == 0 else { throw .io(errno: SystemCall.lastError.rawValue, operation: "fstat \(path)") }
        return (Int(info.st_size), Int(info.st_blocks) * 512)
    }

    @inline(__always)
    private func checkArguments(_ index: Int, _ count: Int) throws(PageStoreError) {
        guard count == pageSize else { throw .wrongPageSize(expected: pageSize, actual: count) }
        guard index >= 0, index <= Int.max / pageSize - 1 else {
            throw .invalidConfiguration("block index \(index) is out of range: use 0..<(Int.max / pageSize)")
        }
    }

    /// How a full transfer ended.
    enum Transfer: Equatable {
        /// Every byte was transferred.
        case done
        /// A call failed with `errno` after `done` bytes.
        case failed(errno: Errno, done: Int)
        /// A call transferred nothing (end of file) after `done` bytes.
        case endOfFile(done: Int)
    }

    /// Calls `step(done)` until `byteCount` bytes are done: a short result continues from where
    /// it stopped, `-1` with `EINTR` retries (`SystemCall.retrying`), `-1` with another errno
    /// fails, `0` is end of file. `step` returns what `pread`/`pwrite` return and leaves `errno`
    /// set on failure.
    @inline(__always)
    static func transferFully(byteCount: Int, _ step: (_ done: Int) -> Int) -> Transfer {
        var done = 0
        while done < byteCount {
            let n: Int
            do { n = try SystemCall.retrying { step(done) } } catch { return .failed(errno: error, done: done) }
            if n == 0 { return .endOfFile(done: done) }
            done += n
        }
        return .done
    }

    #if os(Linux)
    /// `fallocate(2)`, looked up at run time: the C library declares it only with
    /// `_GNU_SOURCE`, which Swift's Glibc module does not define.
    private typealias FallocateFunction = @convention(c) (Int32, Int32, Int64, Int64) -> Int32
    private static let fallocate: FallocateFunction? = {
        guard let symbol = dlsym(nil, "fallocate") else { return nil }
        return unsafeBitCast(symbol, to: FallocateFunction.self)
    }()
    #endif
}

/// What keeps an ``BackingFile/Options/uncached`` file's written pages out of the page cache,
/// on the writers' own path and without a thread (a second thread of the process would make
/// every TLB shootdown of a swap region an inter-processor interrupt): every
/// ``submitEvery`` writes, one `sync_file_range(SYNC_FILE_RANGE_WRITE)` over the file starts
/// the writeback of everything dirty in it (one plug, one device kick, instead of one per
/// page); and each write drops from the cache the block written ``depth`` writes earlier, by
/// then on disk (`POSIX_FADV_DONTNEED` on that block alone, after waiting for its writeback
/// should it still run, so the advice never falls back to draining every CPU's LRU lists).
///
/// **Memory.** A ring of ``depth`` atomic block indices (-1: empty), an `AtomicArray` made in
/// `init` and freed with the dropper. **Invariant**: an index in the ring is a block written
/// since it was last dropped; a block may sit in the ring twice, which only drops it twice.
final class CacheDropper: Sendable {
    /// How many recently written blocks stay in the cache (dirty or under writeback).
    static let depth = 128
    /// Writes between two submissions of the file's dirty pages.
    static let submitEvery = 32
    let fd: Int32
    private let ring = AtomicArray<Int>(count: CacheDropper.depth, repeating: -1)
    private let ticket = Atomic<Int>(0)

    private init(fd: Int32) {
        self.fd = fd
    }

    /// A dropper for `fd`; nil where the system lacks the calls (the file then keeps whatever
    /// the kernel caches).
    static func make(fd: Int32) -> CacheDropper? {
        #if os(Linux)
        guard syncFileRange != nil else { return nil }
        return CacheDropper(fd: fd)
        #else
        return nil
        #endif
    }

    /// `block` (of `pageSize` bytes) was written: drop an older block, and now and then
    /// start the writeback of the newer ones.
    @inline(__always)
    func noteWrite(block: Int, pageSize: Int) {
        #if os(Linux)
        guard let syncFileRange = Self.syncFileRange else { return }
        let t = ticket.add(1, ordering: .relaxed).oldValue
        let old = ring[t % Self.depth].exchange(block, ordering: .relaxed)
        if old >= 0 {
            _ = syncFileRange(fd, Int64(old * pageSize), Int64(pageSize), Self.waitBefore | Self.write | Self.waitAfter)
            BackingFile.dropCache(fd, offset: old * pageSize, length: pageSize)
        }
        if (t + 1) % Self.submitEvery == 0 { _ = syncFileRange(fd, 0, 0, Self.write) }
        #endif
    }

    #if os(Linux)
    private static let waitBefore: UInt32 = 1  // SYNC_FILE_RANGE_WAIT_BEFORE
    private static let write: UInt32 = 2  // SYNC_FILE_RANGE_WRITE
    private static let waitAfter: UInt32 = 4  // SYNC_FILE_RANGE_WAIT_AFTER
    /// `sync_file_range(2)`, looked up at run time (declared only with `_GNU_SOURCE`).
    private typealias SyncFileRange = @convention(c) (Int32, Int64, Int64, UInt32) -> Int32
    private static let syncFileRange: SyncFileRange? = {
        guard let symbol = dlsym(nil, "sync_file_range") else { return nil }
        return unsafeBitCast(symbol, to: SyncFileRange.self)
    }()
    #endif
}
