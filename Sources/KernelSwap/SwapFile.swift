import SystemPackage
import SystemSupport

/// A fresh swap file: made new (mode 0600, `O_EXCL | O_NOFOLLOW`, see `CreatedFile`), its
/// blocks allocated (swapon refuses files with holes) and a swap header written through the
/// descriptor that made it, never by reopening the path; ``remove()`` removes the name only
/// while it still points at this file.
///
/// **Ownership.** Owns the file's directory entry (`OwnedFileEntry`) and the descriptor that
/// made the file until it is released (`deinit` closes it). Holding the file open keeps its
/// inode from being reused, so ``remove()`` can never take another file that got the same
/// inode number for ours; swapon opens the path itself.
public final class SwapFile: Sendable {
    /// Where the kernel side puts its swap file (a disk, unlike /tmp on many systems).
    public static let defaultDirectory = "/var/tmp"

    /// The file's path.
    public let path: String
    private let entry: OwnedFileEntry
    private let descriptor: FileDescriptor

    /// A unique path in `directory`: `uswap-kzswap-<pid>-<random>.swap`.
    public static func uniquePath(in directory: String, pid: Int32 = getpid()) -> String {
        var generator = SystemRandomNumberGenerator()
        let tag = String(UInt32.random(in: 0...UInt32.max, using: &generator), radix: 16)
        let trimmed = directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
        return "\(trimmed)/uswap-kzswap-\(pid)-\(tag).swap"
    }

    /// Why `directory` cannot hold `bytes` more (nil: it can).
    public static func spaceProblem(directory: String, bytes: Int) -> String? {
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { return "cannot inspect \(directory) for the swap file: \(SystemCall.lastError)" }
        guard Sysfs.isWritable(directory) else { return "\(directory) is not writable (the swap file goes there)" }
        let free = Int(info.f_bavail) &* Int(info.f_frsize)
        // Keep a margin of 64 MiB so the swap file never fills the disk.
        guard free >= bytes + (64 << 20) else {
            return "\(directory) has \(free >> 20) MiB free, the swap file needs \(bytes >> 20) MiB (+64 MiB margin)"
        }
        return nil
    }

    /// Makes the swap file at `path` (nothing may be there, not even a link) with `bytes` of
    /// allocated blocks and a swap header; removes it again if a step fails.
    public static func create(_ path: String, bytes: Int) throws(KernelSwapError) -> SwapFile {
        let made: CreatedFile
        do { made = try CreatedFile.create(at: path, existing: .refuse, access: .writeOnly) } catch {
            throw .failed("create the swap file: \(error)")
        }
        // A file CreatedFile made always has its entry.
        guard let entry = made.entry else { throw .failed("create the swap file \(path): it has no name") }
        let file = SwapFile(path: path, entry: entry, descriptor: made.descriptor)
        do throws(KernelSwapError) {
            do { try SystemCall.check(posix_fallocate(made.descriptor.rawValue, 0, off_t(bytes))) } catch {
                throw .failed("allocate \(bytes) bytes for the swap file \(path): \(error)")
            }
            try SwapHeader.write(to: made.descriptor, named: path, totalBytes: bytes)
        } catch {
            entry.remove()
            throw error
        }
        return file
    }

    private init(path: String, entry: OwnedFileEntry, descriptor: FileDescriptor) {
        self.path = path
        self.entry = entry
        self.descriptor = descriptor
    }

    deinit { try? descriptor.close() }

    /// Removes the file's name if it still points at the file made; nothing to do when it is
    /// already gone, and another file now at the path is left alone.
    public func remove() throws(KernelSwapError) {
        switch entry.remove() {
        case .removed, .alreadyGone: return
        case .replacedByAnotherFile:
            throw .restoreFailed("\(path) is no longer the swap file uswap made (another file is there now); left it alone")
        case .failed(let error): throw .restoreFailed("rm \(path): \(error)")
        }
    }
}
