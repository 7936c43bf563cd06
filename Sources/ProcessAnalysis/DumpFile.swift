import SystemPackage

/// The `--dump` file: scanned pages back to back.
///
/// Owns one descriptor from `init` to ``close()`` (or `deinit`).
final class DumpFile {
    /// Where the pages go.
    let path: String
    private var file: FileDescriptor?

    /// Creates (or truncates) the file at `path`, mode 0644.
    init(path: String) throws(MemoryAnalysisError) {
        self.path = path
        do {
            file = try FileDescriptor.open(
                FilePath(path), .writeOnly, options: [.create, .truncate, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch {
            throw .dump(path: path, errno: error as? Errno ?? .ioError)
        }
    }

    deinit { try? file?.close() }

    /// Appends `bytes` whole.
    func write(_ bytes: UnsafeRawBufferPointer) throws(MemoryAnalysisError) {
        guard let file else { throw .dump(path: path, errno: .badFileDescriptor) }
        do { try file.writeAll(bytes) } catch { throw .dump(path: path, errno: error as? Errno ?? .ioError) }
    }

    /// Closes the file; a failure here (a full disk on the last blocks) is the dump's failure.
    func close() throws(MemoryAnalysisError) {
        guard let open = file else { return }
        file = nil
        do { try open.close() } catch { throw .dump(path: path, errno: error as? Errno ?? .ioError) }
    }
}
