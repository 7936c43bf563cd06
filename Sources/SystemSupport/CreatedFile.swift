import Synchronization
import SystemPackage

/// What file creation does when something already sits at the path.
///
/// Whatever the policy, a symbolic link at the path is never followed (nor removed), and a
/// directory, device, socket or pipe is never replaced.
public enum ExistingFilePolicy: Sendable, Equatable {
    /// Anything at the path is refused, even an empty file (plain `O_EXCL`).
    case refuse
    /// An empty regular file of this user is replaced by the new file; anything else there is
    /// refused: a file that holds data, another user's file, a link, a directory, a device.
    case refuseNonEmpty
    /// Any regular file there is replaced by the new file (`--force`): its directory entry is
    /// removed and a new file is made, so whoever held the old file never sees the new one.
    case replaceRegularFile
}

/// Why a file could not be created; each message says what to do.
public enum FileCreationError: Error, Equatable, CustomStringConvertible {
    /// The path cannot name a new file (empty, or it ends in `/`, `.` or `..`).
    case invalidPath(String)
    /// A symbolic link sits at the path; it is never followed.
    case symbolicLink(path: String)
    /// Something other than a regular file sits at the path (its kind).
    case notARegularFile(path: String, kind: String)
    /// A file sits at the path, and nothing may be replaced (``ExistingFilePolicy/refuse``).
    case alreadyExists(path: String)
    /// A regular file holding `bytes` bytes sits at the path.
    case notEmpty(path: String, bytes: Int)
    /// An empty file of another user sits at the path.
    case ownedByAnotherUser(path: String, uid: UInt32)
    /// Something was made at the path again while the old file was being replaced.
    case replacedMeanwhile(path: String)
    /// A system call failed.
    case system(path: String, operation: String, errno: Errno)
    /// The directory's file system cannot make unnamed files (`O_TMPFILE`).
    case unnamedFilesUnsupported(directory: String, errno: Errno)

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .invalidPath(let path):
            "\"\(path)\" does not name a file: give a path that ends in a file name"
        case .symbolicLink(let path):
            "\(path) is a symbolic link; uswap never writes through a link: remove it or give another path"
        case .notARegularFile(let path, let kind):
            "\(path) exists and is a \(kind), not a regular file: give the path of a new file"
        case .alreadyExists(let path):
            "\(path) already exists: give the path of a new file"
        case .notEmpty(let path, let bytes):
            "\(path) exists and holds \(bytes) bytes; uswap does not overwrite it: remove it, give another path, or add --force"
        case .ownedByAnotherUser(let path, let uid):
            "\(path) exists and belongs to user \(uid): remove it, give another path, or add --force"
        case .replacedMeanwhile(let path):
            "something made \(path) again while uswap replaced it: check who else writes there, then retry"
        case .system(let path, let operation, let errno):
            "cannot \(operation) \(path): \(errno)"
        case .unnamedFilesUnsupported(let directory, let errno):
            "the file system of \(directory) cannot hold unnamed files (O_TMPFILE: \(errno)): give a file path instead"
        }
    }
}

/// A file this process has just made: its descriptor and, for a named file, its directory entry.
///
/// ```swift
/// let file = try CreatedFile.create(at: "/var/tmp/pages.bin", existing: .refuseNonEmpty)
/// defer { try? file.descriptor.close() }
/// try file.descriptor.writeAll(bytes)
/// file.entry?.remove()   // only while the name still points at this file
/// ```
///
/// Both ways of making a file give mode 0600 (less with a stricter umask), `O_CLOEXEC`, and never
/// follow a symbolic link: ``create(at:existing:access:)`` makes a named file with
/// `O_CREAT | O_EXCL | O_NOFOLLOW` relative to a descriptor of its directory;
/// ``unnamed(in:access:)`` makes an `O_TMPFILE` file that has no name at all, so nothing is left
/// behind whatever ends the process, even SIGKILL.
///
/// **Ownership.** The caller owns ``descriptor`` and closes it. The ``entry`` owns a descriptor of
/// the directory (closed in its `deinit`), which keeps removal in the same directory even if the
/// path's directories are renamed.
public struct CreatedFile: Sendable {
    /// The new file, open with the access asked for and `O_CLOEXEC`; the caller closes it.
    public let descriptor: FileDescriptor
    /// Its directory entry, or nil for an unnamed file.
    public let entry: OwnedFileEntry?

    /// How the new file is opened.
    public enum Access: Sendable {
        /// `O_RDWR`.
        case readWrite
        /// `O_WRONLY`.
        case writeOnly

        var flags: Int32 { self == .readWrite ? O_RDWR : O_WRONLY }
    }

    /// Makes a new file at `path`.
    ///
    /// Nothing at the path: the file is made there. Otherwise `existing` decides: a regular file
    /// that may be replaced has its directory entry removed and a new file is made in its place
    /// (`O_EXCL` again: if something reappears meanwhile, the call fails); anything else is refused
    /// and left as it is. The directories leading to the file are followed as usual; the file's
    /// own name never is.
    ///
    /// - Throws: ``FileCreationError``, with nothing changed except a replaced file's old entry.
    public static func create(
        at path: String, existing: ExistingFilePolicy = .refuseNonEmpty, access: Access = .readWrite
    ) throws(FileCreationError) -> CreatedFile {
        let (directoryPath, name) = try split(path)
        let directory: Int32
        do { directory = try SystemCall.retrying { open(directoryPath, Self.pathFlag | O_DIRECTORY | O_CLOEXEC) } } catch {
            throw .system(path: directoryPath, operation: "open the directory", errno: error)
        }
        var handedOver = false
        defer { if !handedOver { _ = close(directory) } }
        let flags = access.flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
        var replaced = false
        while true {
            let fd = openat(directory, name, flags, 0o600)
            if fd >= 0 {
                let identity: FileIdentity
                do { identity = try FileIdentity(of: fd) } catch {
                    _ = unlinkat(directory, name, 0)
                    _ = close(fd)
                    throw .system(path: path, operation: "inspect the new file", errno: error)
                }
                handedOver = true
                let entry = OwnedFileEntry(path: path, directory: directory, name: name, identity: identity)
                return CreatedFile(descriptor: FileDescriptor(rawValue: fd), entry: entry)
            }
            let code = SystemCall.lastError
            if code == .interrupted { continue }
            guard code == .fileExists else { throw .system(path: path, operation: "create", errno: code) }
            if replaced { throw .replacedMeanwhile(path: path) }
            var info = stat()
            guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                let code = SystemCall.lastError
                if code == .noSuchFileOrDirectory { continue }  // removed meanwhile: try again
                throw .system(path: path, operation: "inspect", errno: code)
            }
            try check(existing: info, at: path, policy: existing)
            guard unlinkat(directory, name, 0) == 0 || errno == ENOENT else {
                throw .system(path: path, operation: "remove the old file", errno: SystemCall.lastError)
            }
            replaced = true
        }
    }

    /// Makes an unnamed file (`O_TMPFILE`) on the file system of `directory`: it has no
    /// directory entry, so nothing is left behind when it is closed or the process ends, even by
    /// SIGKILL.
    ///
    /// - Throws: ``FileCreationError/unnamedFilesUnsupported(directory:errno:)`` where the file
    ///   system or kernel cannot make one, ``FileCreationError/system(path:operation:errno:)``
    ///   otherwise (no such directory, no permission).
    public static func unnamed(in directory: String, access: Access = .readWrite) throws(FileCreationError) -> CreatedFile {
        guard let temporary = Self.temporaryFileFlag else {
            throw .unnamedFilesUnsupported(directory: directory, errno: .notSupported)
        }
        let fd: Int32
        do { fd = try SystemCall.retrying { open(directory, temporary | access.flags | O_CLOEXEC, 0o600) } } catch {
            // EISDIR: a kernel without O_TMPFILE; EOPNOTSUPP: a file system without it.
            if error == .isDirectory || error == .notSupported || error == .invalidArgument {
                throw .unnamedFilesUnsupported(directory: directory, errno: error)
            }
            throw .system(path: directory, operation: "make an unnamed file in", errno: error)
        }
        return CreatedFile(descriptor: FileDescriptor(rawValue: fd), entry: nil)
    }

    /// Refuses what `info` describes unless `policy` lets it be replaced.
    static func check(existing info: stat, at path: String, policy: ExistingFilePolicy) throws(FileCreationError) {
        let kind = info.st_mode & S_IFMT
        if kind == S_IFLNK { throw .symbolicLink(path: path) }
        guard kind == S_IFREG else { throw .notARegularFile(path: path, kind: Self.kindName(kind)) }
        switch policy {
        case .replaceRegularFile: return
        case .refuse: throw .alreadyExists(path: path)
        case .refuseNonEmpty: break
        }
        if info.st_size > 0 { throw .notEmpty(path: path, bytes: Int(info.st_size)) }
        if info.st_uid != geteuid() { throw .ownedByAnotherUser(path: path, uid: info.st_uid) }
    }

    /// `path` as its directory (`.` when it has none) and its last component.
    static func split(_ path: String) throws(FileCreationError) -> (directory: String, name: String) {
        guard !path.isEmpty, !path.hasSuffix("/") else { throw .invalidPath(path) }
        let name: String
        let directory: String
        if let slash = path.lastIndex(of: "/") {
            name = String(path[path.index(after: slash)...])
            let head = String(path[..<slash])
            directory = head.isEmpty ? "/" : head
        } else {
            name = path
            directory = "."
        }
        guard name != ".", name != "..", !name.contains("\0") else { throw .invalidPath(path) }
        return (directory, name)
    }

    /// A file type's name for messages.
    static func kindName(_ kind: mode_t) -> String {
        switch kind {
        case S_IFDIR: "directory"
        case S_IFCHR: "character device"
        case S_IFBLK: "block device"
        case S_IFIFO: "pipe"
        case S_IFSOCK: "socket"
        case S_IFLNK: "symbolic link"
        default: "special file"
        }
    }

    /// `O_PATH` (a descriptor that only names a directory: no read permission needed), which
    /// the C headers hide behind `_GNU_SOURCE`; plain `O_RDONLY` where it is unknown.
    static var pathFlag: Int32 {
        #if os(Linux) && (arch(x86_64) || arch(i386) || arch(arm64) || arch(arm))
        return 0o10000000
        #else
        return O_RDONLY
        #endif
    }

    /// `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`), hidden behind `_GNU_SOURCE`; nil where the
    /// platform has none.
    static var temporaryFileFlag: Int32? {
        #if os(Linux) && (arch(x86_64) || arch(i386) || arch(arm64) || arch(arm))
        return 0o20000000 | O_DIRECTORY
        #else
        return nil
        #endif
    }
}

/// Which file a descriptor or directory entry refers to: its device and inode numbers.
public struct FileIdentity: Sendable, Hashable {
    /// `st_dev`.
    public let device: UInt64
    /// `st_ino`.
    public let inode: UInt64

    /// The identity of the open file `fd` (`fstat`).
    public init(of fd: Int32) throws(Errno) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemCall.lastError }
        self.init(info)
    }

    /// The identity in `info`.
    public init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

/// What ``OwnedFileEntry/remove()`` did.
public enum FileEntryRemoval: Sendable, Equatable {
    /// The entry named our file and is gone now.
    case removed
    /// Nothing had that name any more (or it was removed before).
    case alreadyGone
    /// The name now belongs to another file, which was left alone.
    case replacedByAnotherFile
    /// The entry could not be removed (the error).
    case failed(Errno)
}

/// The directory entry of a file this process made: removed only while it still names that file.
///
/// **Ownership.** Owns a descriptor of the file's directory from ``CreatedFile/create(at:existing:access:)``
/// until `deinit`, so ``remove()`` acts in that directory even if the path's directories were
/// renamed since. **Invariant**: ``identity`` is the file that was made; ``remove()`` unlinks the
/// name only when `fstatat` finds that same file there, and runs once (later calls, from any
/// thread, return ``FileEntryRemoval/alreadyGone``). Call it while the file is still open
/// somewhere, so its inode cannot have been reused by another file.
public final class OwnedFileEntry: Sendable {
    /// The path the file was made at.
    public let path: String
    /// The file that was made.
    public let identity: FileIdentity
    private let directory: Int32
    private let name: String
    private let removed = Atomic<Bool>(false)

    init(path: String, directory: Int32, name: String, identity: FileIdentity) {
        self.path = path
        self.directory = directory
        self.name = name
        self.identity = identity
    }

    /// The entry of an already open file `fd` at `path`, for removing its name later: opens
    /// the path's directory and checks that the name points at `fd`'s file now.
    ///
    /// - Throws: ``FileCreationError/system(path:operation:errno:)`` when the directory cannot
    ///   be opened or the name does not point at that file (`ESTALE`).
    public convenience init(path: String, naming fd: Int32) throws(FileCreationError) {
        let (directoryPath, name) = try CreatedFile.split(path)
        let identity: FileIdentity
        do { identity = try FileIdentity(of: fd) } catch { throw .system(path: path, operation: "inspect", errno: error) }
        let directory: Int32
        do {
            directory = try SystemCall.retrying { open(directoryPath, CreatedFile.pathFlag | O_DIRECTORY | O_CLOEXEC) }
        } catch {
            throw .system(path: directoryPath, operation: "open the directory", errno: error)
        }
        self.init(path: path, directory: directory, name: name, identity: identity)
        guard namesOurFile else { throw .system(path: path, operation: "find the open file under", errno: .staleNFSFileHandle) }
    }

    deinit { _ = close(directory) }

    /// Whether the name still points at the file that was made.
    public var namesOurFile: Bool {
        var info = stat()
        return fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 && FileIdentity(info) == identity
    }

    /// Removes the name if it still points at the file that was made; anything else there now is
    /// left alone. Runs once; safe from any thread, including a signal-cleanup thread.
    @discardableResult
    public func remove() -> FileEntryRemoval {
        guard !removed.exchange(true, ordering: .acquiringAndReleasing) else { return .alreadyGone }
        var info = stat()
        guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            let code = SystemCall.lastError
            return code == .noSuchFileOrDirectory ? .alreadyGone : .failed(code)
        }
        guard FileIdentity(info) == identity else { return .replacedByAnotherFile }
        guard unlinkat(directory, name, 0) == 0 else {
            let code = SystemCall.lastError
            return code == .noSuchFileOrDirectory ? .alreadyGone : .failed(code)
        }
        return .removed
    }

    /// Checks the invariant (debug builds): the directory descriptor is open.
    public func checkInvariants() {
        #if DEBUG
        let flags = fcntl(directory, F_GETFD)
        precondition(flags >= 0, "the directory descriptor of \(path) is closed")
        #endif
    }
}
