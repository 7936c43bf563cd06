#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PageCodecs

/// Why a page corpus could not be used, with what to do about it.
enum CorpusError: Error, Equatable, CustomStringConvertible {
    /// The page size is not a power of two from 4 KiB to 64 KiB.
    case invalidPageSize(Int)
    /// No file at the path.
    case missing(path: String)
    /// The file exists but cannot be opened or read (permissions, a directory, an I/O error).
    case unreadable(path: String, reason: String)
    /// The file is empty.
    case empty(path: String)
    /// The file holds less than one page.
    case smallerThanAPage(path: String, size: Int, pageSize: Int)

    var description: String {
        switch self {
        case .invalidPageSize(let size):
            "page size \(size) is not a power of two from \(PageSize.minimum) to \(PageSize.maximum): use 4096, 8192, 16384, 32768 or 65536"
        case .missing(let path):
            "corpus file \(path) does not exist: pass a file of memory pages (e.g. zstd -dc heap-mix-64m.bin.zst > heap-mix-64m.bin)"
        case .unreadable(let path, let reason):
            "cannot read corpus file \(path): \(reason)"
        case .empty(let path):
            "corpus file \(path) is empty: it must hold at least one whole page"
        case .smallerThanAPage(let path, let size, let pageSize):
            "corpus file \(path) holds \(size) bytes, less than one \(pageSize)-byte page: use a larger file or a smaller --page-size"
        }
    }
}

/// A file of memory pages (a *corpus*), read whole into memory: the input of the `bench`
/// commands.
///
/// Memory: the instance owns one page-aligned allocation of `pageCount * pageSize` bytes,
/// holding the file's whole pages, from `init` until `deinit`. A trailing part of the file
/// shorter than a page is not kept; its length is ``remainderBytes``. The contents never change
/// after `init`, so ``bytes`` and ``page(_:)`` stay valid as long as the instance lives.
/// Invariant: `pageCount >= 1`, `pageSize` is valid, `remainderBytes < pageSize`
/// (``checkInvariants()``).
final class CorpusFile {
    /// The path the file was read from.
    let path: String
    /// The size of one page in bytes.
    let pageSize: Int
    /// The number of whole pages.
    let pageCount: Int
    /// Bytes at the end of the file that do not make a whole page (ignored).
    let remainderBytes: Int
    private let storage: UnsafeMutableRawPointer

    /// Reads the whole pages of the file at `path`.
    ///
    /// - Throws: ``CorpusError`` when the page size is invalid, or the file is missing,
    ///   unreadable, empty or smaller than a page.
    init(path: String, pageSize: Int = PageSize.default) throws(CorpusError) {
        guard PageSize.isValid(pageSize) else { throw .invalidPageSize(pageSize) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw code == ENOENT ? .missing(path: path) : .unreadable(path: path, reason: Self.message(code))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(path: path, reason: Self.message(errno)) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw .unreadable(path: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size > 0 else { throw .empty(path: path) }
        guard size >= pageSize else { throw .smallerThanAPage(path: path, size: size, pageSize: pageSize) }
        let pages = size / pageSize
        let byteCount = pages * pageSize
        let storage = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 4096)
        var done = 0
        while done < byteCount {
            let n = read(fd, storage + done, min(byteCount - done, 1 << 30))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let reason = n < 0 ? Self.message(errno) : "the file shrank while it was read (\(done) of \(byteCount) bytes)"
                storage.deallocate()
                throw .unreadable(path: path, reason: reason)
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
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage, count: pageCount * pageSize) }

    /// Page `index` (0 ..< ``pageCount``).
    func page(_ index: Int) -> UnsafeRawBufferPointer {
        precondition(index >= 0 && index < pageCount, "page \(index) outside the corpus's \(pageCount) pages")
        return UnsafeRawBufferPointer(start: storage + index * pageSize, count: pageSize)
    }

    /// How many pages are one 8-byte word repeated (``SameFilled``), as zram counts `same_pages`.
    func sameFilledPageCount() -> Int {
        var count = 0
        for index in 0..<pageCount where SameFilled.word(of: page(index)) != nil { count += 1 }
        return count
    }

    /// Checks the invariant (debug builds only).
    func checkInvariants() {
        #if DEBUG
        precondition(pageCount >= 1, "a corpus holds at least one page")
        precondition(PageSize.isValid(pageSize), "invalid page size \(pageSize)")
        precondition(remainderBytes >= 0 && remainderBytes < pageSize, "remainder \(remainderBytes) not below a page")
        precondition(Int(bitPattern: storage) % 4096 == 0, "corpus storage not page-aligned")
        #endif
    }

    private static func message(_ code: Int32) -> String {
        strerror(code).map { String(cString: $0) } ?? "errno \(code)"
    }
}
