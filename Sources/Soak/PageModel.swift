import SystemSupport
import Workloads

/// What every page of a soak round's region must hold: a version per page, whose contents are
/// Workloads' `VersionedPage` of (page, version); version 0 is a page never written (zeros).
///
/// Each page has one writer (its owner thread: a worker, or the round's checker for quarantine
/// pages), which is the only thread that changes its version; any thread may read versions to
/// check a snapshot. A writer marks the version *in progress* (``writingBit``) before it fills
/// the page and publishes the new version after, so a reader that sees the same plain version
/// before and after copying a page knows nobody wrote it meanwhile.
///
/// **Memory.** One `AtomicArray<UInt32>` of `pageCount` versions, made in `init` and freed with
/// the model. **Invariant**: a version without ``writingBit`` is the version the page holds
/// (once every access to it that started before has finished).
final class PageModel: Sendable {
    /// Set in a version while its owner rewrites the page.
    static let writingBit: UInt32 = 1 << 31

    /// The number of pages.
    let pageCount: Int
    /// The page size.
    let pageSize: Int
    private let versions: AtomicArray<UInt32>

    /// `pageCount` pages of `pageSize` bytes, all at version 0 (never written).
    init(pageCount: Int, pageSize: Int) {
        self.pageCount = pageCount
        self.pageSize = pageSize
        versions = AtomicArray(count: pageCount, repeating: 0)
    }

    /// Page `page`'s version now (``writingBit`` set while its owner writes it).
    @inline(__always)
    func version(of page: Int) -> UInt32 { versions[page].load(ordering: .acquiring) }

    /// The owner rewrites page `page` at `base` with its next version; returns that version.
    @inline(__always)
    @discardableResult
    func write(_ page: Int, at base: UnsafeMutableRawPointer) -> UInt32 {
        let next = (versions[page].load(ordering: .relaxed) & ~Self.writingBit) &+ 1
        versions[page].store(next | Self.writingBit, ordering: .releasing)
        VersionedPage.fill(base, page: page, version: next, pageSize: pageSize)
        versions[page].store(next, ordering: .releasing)
        return next
    }

    /// The owner checks page `page` at `base + page * pageSize` against its version; nil when
    /// it matches, else what is wrong (see ``diagnose(_:page:expected:)``).
    @inline(__always)
    func check(_ page: Int, at base: UnsafeRawPointer) -> String? {
        let expected = version(of: page)
        if matches(base + page * pageSize, page: page, version: expected) { return nil }
        return diagnose(base + page * pageSize, page: page, expected: expected)
    }

    /// Whether the `pageSize` bytes at `bytes` are page `page` at `version`.
    @inline(__always)
    func matches(_ bytes: UnsafeRawPointer, page: Int, version: UInt32) -> Bool {
        if version == 0 {
            for i in 0..<(pageSize / 8) where bytes.load(fromByteOffset: i * 8, as: UInt64.self) != 0 { return false }
            return true
        }
        return VersionedPage.verify(bytes - page * pageSize, page: page, version: version, pageSize: pageSize)
    }

    /// What the `pageSize` bytes at `bytes` hold instead of page `page` at `expected`: zeros,
    /// another version of the page (stale or ahead), another page, or bytes of no page (torn
    /// or corrupt, with the first differing word).
    func diagnose(_ bytes: UnsafeRawPointer, page: Int, expected: UInt32) -> String {
        let words = pageSize / 8
        var zero = true
        for i in 0..<words where bytes.load(fromByteOffset: i * 8, as: UInt64.self) != 0 {
            zero = false
            break
        }
        let want = "page \(page) should hold version \(expected)"
        if zero { return "\(want) but reads as zeros" }
        // Odd words of a versioned page are page | version << 40.
        let tag = bytes.load(fromByteOffset: 8, as: UInt64.self)
        let foundPage = Int(tag & 0xFF_FFFF_FFFF)
        let foundVersion = UInt32(truncatingIfNeeded: tag >> 40)
        if foundPage < pageCount, foundVersion != 0,
            VersionedPage.verify(bytes - foundPage * pageSize, page: foundPage, version: foundVersion, pageSize: pageSize)
        {
            if foundPage != page { return "\(want) but holds page \(foundPage) version \(foundVersion) (another page's contents)" }
            return "\(want) but holds version \(foundVersion) (\(foundVersion < expected ? "a lost write: stale" : "ahead of the model"))"
        }
        var first = 0
        for i in 0..<words {
            let word = expected == 0 ? 0 : VersionedPage.word(page: page, version: expected, index: i)
            guard bytes.load(fromByteOffset: i * 8, as: UInt64.self) == word else {
                first = i
                break
            }
        }
        return "\(want) but word \(first) differs (torn or corrupt: word 1 reads 0x\(String(tag, radix: 16)))"
    }
}
