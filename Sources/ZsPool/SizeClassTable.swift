/// The pool's size classes, derived the way zsmalloc derives them.
///
/// Sizes run from 32 bytes to the page size in steps of `pageSize >> 8` (16 bytes on 4 KiB
/// pages, 255 sizes). Each size packs its objects into a *span* (zsmalloc's zspage) of 1 to 8
/// pages, the count chosen to leave the smallest tail (zsmalloc's `calculate_zspage_chain_size`;
/// power-of-two sizes take one page). Sizes with the same (pages per span, objects per span)
/// share one class, the larger size, as zsmalloc merges them.
///
/// `hugeClassSize` is the kernel's `huge_class_size`: the largest size whose class is not
/// "one page, one object". A compressed page of at least that size is stored raw. On 4 KiB
/// pages it is 3632.
public struct SizeClassTable: Sendable {
    /// The smallest object size (zsmalloc's ZS_MIN_ALLOC_SIZE).
    public static let minimumSize = 32
    /// The most pages in one span (zsmalloc's CONFIG_ZSMALLOC_CHAIN_SIZE default).
    public static let maximumPagesPerSpan = 8

    /// The device page size the classes are derived for.
    public let pageSize: Int
    /// The step between sizes: `pageSize >> 8`.
    public let delta: Int
    /// Object size of each distinct class, ascending.
    public let sizes: [Int]
    /// Pages per span of each distinct class.
    public let pagesPerSpan: [Int]
    /// Objects per span of each distinct class.
    public let objectsPerSpan: [Int]
    /// For `units = (size - minimumSize + delta - 1) / delta` (0 for sizes up to 32): the class.
    public let classForUnits: [UInt16]
    /// The kernel's huge_class_size.
    public let hugeClassSize: Int
    /// The class of a raw page (one page, one object).
    public let hugeClassIndex: Int

    /// The number of distinct classes.
    public var count: Int { sizes.count }

    /// zsmalloc's chain-size choice: the page count from 1 to 8 with the smallest tail waste.
    public static func pagesPerSpan(forSize size: Int, pageSize: Int) -> Int {
        if size & (size - 1) == 0 { return 1 }
        var best = 1
        var bestWaste = Int.max
        for pages in 1...maximumPagesPerSpan {
            let waste = (pages * pageSize) % size
            if waste < bestWaste {
                bestWaste = waste
                best = pages
            }
        }
        return best
    }

    /// Derives the classes for `pageSize` (a power of two, 4 KiB to 64 KiB: see `PageSize`).
    public init(pageSize: Int) {
        self.pageSize = pageSize
        delta = pageSize >> 8
        let rawCount = (pageSize - Self.minimumSize + delta - 1) / delta + 1
        // Walk from the biggest size down, as zs_create_pool does, merging equal shapes.
        var descendingSizes: [Int] = []
        var descendingPages: [Int] = []
        var descendingObjects: [Int] = []
        var rawToDescending = [Int](repeating: 0, count: rawCount)
        var huge = 0
        for raw in stride(from: rawCount - 1, through: 0, by: -1) {
            let size = min(Self.minimumSize + raw * delta, pageSize)
            let pages = Self.pagesPerSpan(forSize: size, pageSize: pageSize)
            let objects = pages * pageSize / size
            if huge == 0 && !(pages == 1 && objects == 1) { huge = size }
            if let lastPages = descendingPages.last, lastPages == pages, descendingObjects.last == objects {
                rawToDescending[raw] = descendingSizes.count - 1
                continue
            }
            descendingSizes.append(size)
            descendingPages.append(pages)
            descendingObjects.append(objects)
            rawToDescending[raw] = descendingSizes.count - 1
        }
        let distinct = descendingSizes.count
        sizes = descendingSizes.reversed()
        pagesPerSpan = descendingPages.reversed()
        objectsPerSpan = descendingObjects.reversed()
        classForUnits = rawToDescending.map { UInt16(distinct - 1 - $0) }
        hugeClassSize = huge == 0 ? pageSize : huge
        hugeClassIndex = distinct - 1
    }

    /// The class an object of `size` bytes (1...pageSize) lands in: the smallest class whose
    /// objects hold it.
    @inlinable @inline(__always)
    public func classIndex(forSize size: Int) -> Int {
        let units = size <= Self.minimumSize ? 0 : (size - Self.minimumSize + delta - 1) / delta
        return Int(classForUnits[units])
    }
}
