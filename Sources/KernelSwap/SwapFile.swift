import SystemPackage
import SystemSupport

/// A fresh swap file: created exclusively (mode 0600), its blocks allocated (swapon refuses
/// files with holes), a swap header written. Removing it is the caller's undo.
public enum SwapFile {
    /// Where the kernel side puts its swap file (a disk, unlike /tmp on many systems).
    public static let defaultDirectory = "/var/tmp"

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

    /// Creates the file at `path` (must not exist), mode 0600 whatever the umask.
    public static func create(_ path: String) throws(KernelSwapError) {
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(
                FilePath(path), .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec], permissions: [.ownerReadWrite])
        } catch {
            throw .failed("create the swap file \(path): \(error)")
        }
        defer { try? file.close() }
        do { _ = try SystemCall.retrying { fchmod(file.rawValue, 0o600) } } catch { throw .failed("chmod 0600 \(path): \(error)") }
    }

    /// Allocates `bytes` of real blocks for the file at `path` and writes the swap header.
    public static func prepare(_ path: String, bytes: Int) throws(KernelSwapError) {
        do {
            let file = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.closeOnExec])
            defer { try? file.close() }
            try SystemCall.check(posix_fallocate(file.rawValue, 0, off_t(bytes)))
        } catch {
            throw .failed("allocate \(bytes) bytes for the swap file \(path): \(error)")
        }
        try SwapHeader.write(to: path, totalBytes: bytes)
    }

    /// Removes the file; nothing to do when it is already gone.
    public static func remove(_ path: String) throws(KernelSwapError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw .restoreFailed("rm \(path): \(SystemCall.lastError)") }
    }
}
