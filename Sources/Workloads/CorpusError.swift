import PageCodecs

/// Why a page corpus could not be used, with what to do about it.
public enum CorpusError: Error, Equatable, CustomStringConvertible {
    /// The page size is not a power of two from 4 KiB to 64 KiB.
    case invalidPageSize(Int)
    /// No file at the path.
    case missing(path: String)
    /// The file exists but cannot be opened, mapped or read (permissions, a directory, an I/O error).
    case unreadable(path: String, reason: String)
    /// The file is empty.
    case empty(path: String)
    /// The file holds less than one page.
    case smallerThanAPage(path: String, size: Int, pageSize: Int)

    /// What happened and what to do.
    public var description: String {
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
