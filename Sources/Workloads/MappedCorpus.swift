import SystemPackage
import SystemSupport

/// A read-only private mapping of a corpus file's whole 4 KiB pages (what swapbench.c maps):
/// file pages, not charged to a memory cgroup when the page cache already holds them, so a
/// process measured in a cgroup can fill its memory from the corpus without the corpus counting
/// against its limit.
///
/// Memory: the mapping is owned by this object from `init` until `deinit` (`munmap`); ``bytes``
/// must not be used after the object is gone. Invariant: ``bytes`` covers the mapping's whole
/// pages and the mapping is never written.
public final class MappedCorpus {
    /// The whole pages of the file.
    public let bytes: UnsafeRawBufferPointer
    private let length: Int

    /// Maps the file at `path`.
    ///
    /// - Throws: ``CorpusError`` when the file is missing, unreadable or smaller than a page.
    public init(path: String) throws(CorpusError) {
        let file = try CorpusError.opening(path)
        defer { try? file.close() }
        let size = try CorpusError.regularFileSize(file, path: path)
        let pages = size / 4096
        guard pages > 0 else { throw .smallerThanAPage(path: path, size: size, pageSize: 4096) }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, file.rawValue, 0), p != MAP_FAILED else {
            throw .unreadable(path: path, reason: "mmap: \(SystemCall.lastError)")
        }
        length = size
        bytes = UnsafeRawBufferPointer(start: p, count: pages * 4096)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), length) }

    /// Checks the invariant (debug builds only).
    public func checkInvariants() {
        #if DEBUG
        precondition(bytes.count > 0 && bytes.count % 4096 == 0 && bytes.count <= length, "mapping size drifted")
        #endif
    }
}
