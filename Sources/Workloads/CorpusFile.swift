import PageCodecs
import SystemPackage
import SystemSupport

/// A file of memory pages (a *corpus*), read whole into memory: the input of the `bench`
/// commands.
///
/// Memory: the instance owns one page-aligned allocation of `pageCount * pageSize` bytes,
/// holding the file's whole pages, from `init` until `deinit`. A trailing part of the file
/// shorter than a page is not kept; its length is ``remainderBytes``. The contents never change
/// after `init`, so ``bytes`` and ``page(_:)`` stay valid as long as the instance lives.
/// Invariant: `pageCount >= 1`, `pageSize` is valid, `remainderBytes < pageSize`
/// (``checkInvariants()``).
public final class CorpusFile {
    /// The path the file was read from.
    public let path: String
    /// The size of one page in bytes.
    public let pageSize: Int
    /// The number of whole pages.
    public let pageCount: Int
    /// Bytes at the end of the file that do not make a whole page (ignored).
    public let remainderBytes: Int
    private let storage: UnsafeMutableRawPointer

    /// Reads the whole pages of the file at `path`.
    ///
    /// - Throws: ``CorpusError`` when the page size is invalid, or the file is missing,
    ///   unreadable, empty or smaller than a page.
    public init(path: String, pageSize: Int = PageSize.default) throws(CorpusError) {
        guard PageSize.isValid(pageSize) else { throw .invalidPageSize(pageSize) }
        let file = try CorpusError.opening(path)
        defer { try? file.close() }
        let size = try CorpusError.regularFileSize(file, path: path)
        guard size >= pageSize else { throw .smallerThanAPage(path: path, size: size, pageSize: pageSize) }
        let pages = size / pageSize
        let byteCount = pages * pageSize
        let storage = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 4096)
        var done = 0
        while done < byteCount {
            let chunk = UnsafeMutableRawBufferPointer(start: storage + done, count: min(byteCount - done, 1 << 30))
            let n: Int
            do { n = try file.read(fromAbsoluteOffset: Int64(done), into: chunk) } catch {
                storage.deallocate()
                throw .unreadable(path: path, reason: "\(error)")
            }
            guard n > 0 else {
                storage.deallocate()
                throw .unreadable(path: path, reason: "the file shrank while it was read (\(done) of \(byteCount) bytes)")
            }
            done += n
        }
        self.path = path
        self.pageSize = pageSize
        self.pageCount = pages
        self.remainderBytes = size - byteCount
        self.storage = storage
    }

    deinit { storage.deallocate() }

    /// All whole pages, back to back.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage, count: pageCount * pageSize) }

    /// Page `index` (0 ..< ``pageCount``).
    public func page(_ index: Int) -> UnsafeRawBufferPointer {
        precondition(index >= 0 && index < pageCount, "page \(index) outside the corpus's \(pageCount) pages")
        return UnsafeRawBufferPointer(start: storage + index * pageSize, count: pageSize)
    }

    /// How many pages are one 8-byte word repeated (PageCodecs' `SameFilled`), as zram counts `same_pages`.
    public func sameFilledPageCount() -> Int {
        var count = 0
        for index in 0..<pageCount where SameFilled.word(of: page(index)) != nil { count += 1 }
        return count
    }

    /// Checks the invariant (debug builds only).
    public func checkInvariants() {
        #if DEBUG
        precondition(pageCount >= 1, "a corpus holds at least one page")
        precondition(PageSize.isValid(pageSize), "invalid page size \(pageSize)")
        precondition(remainderBytes >= 0 && remainderBytes < pageSize, "remainder \(remainderBytes) not below a page")
        precondition(Int(bitPattern: storage) % 4096 == 0, "corpus storage not page-aligned")
        #endif
    }
}

extension CorpusError {
    /// Opens `path` read-only: ``missing(path:)`` when there is no such file, else
    /// ``unreadable(path:reason:)``.
    static func opening(_ path: String) throws(CorpusError) -> FileDescriptor {
        do {
            return try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec])
        } catch let error as Errno {
            throw error == .noSuchFileOrDirectory ? .missing(path: path) : .unreadable(path: path, reason: error.description)
        } catch {
            throw .unreadable(path: path, reason: "\(error)")
        }
    }

    /// The size of the open regular file at `path` (at least one byte).
    static func regularFileSize(_ file: FileDescriptor, path: String) throws(CorpusError) -> Int {
        let info: Stat
        do { info = try file.stat() } catch { throw .unreadable(path: path, reason: error.description) }
        guard info.type == .regular else { throw .unreadable(path: path, reason: "not a regular file") }
        guard info.size > 0 else { throw .empty(path: path) }
        return Int(info.size)
    }
}
