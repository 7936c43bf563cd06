import SystemPackage
import SystemSupport

/// The `--dump` file: scanned pages back to back. They are another process's memory (secrets,
/// possibly), so the file is made new with mode 0600 and never through a link at the path
/// (``CreatedFile``); a file holding data is replaced only with ``ExistingFilePolicy/replaceRegularFile``.
///
/// **Ownership.** Owns one descriptor from `init` to ``close()`` or ``discard()`` (or `deinit`),
/// and the file's directory entry, which ``discard()`` removes while it still names this file.
final class DumpFile {
    /// Where the pages go.
    let path: String
    private var file: FileDescriptor?
    /// The file's directory entry (removed by ``discard()``).
    let entry: OwnedFileEntry?

    /// Makes the file at `path` (see ``CreatedFile/create(at:existing:access:)``).
    init(path: String, existing: ExistingFilePolicy) throws(MemoryAnalysisError) {
        self.path = path
        let made: CreatedFile
        do { made = try CreatedFile.create(at: path, existing: existing, access: .writeOnly) } catch {
            throw .dumpNotCreated(error)
        }
        file = made.descriptor
        entry = made.entry
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

    /// Removes the unfinished dump (its name, while it still names this file) and closes it:
    /// an analysis that failed leaves no partial dump behind.
    func discard() {
        entry?.remove()  // before closing: the inode cannot have been reused meanwhile
        if let open = file {
            file = nil
            try? open.close()
        }
    }
}
