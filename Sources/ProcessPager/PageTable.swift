import Synchronization
import SystemPackage
import SystemSupport

/// The state words of every page of one program's address space: a flat table indexed by page
/// number over the whole 47-bit user address space.
///
/// **Memory and ownership.** The table owns one reserved range of address space (2^35 words,
/// 256 GiB, `MAP_NORESERVE`): a part costs memory only once a word in it is written, one 4 KiB
/// page of words per 2 MiB of the program's address space that holds managed pages. A small
/// bitmap, allocated with the table, marks which 1 GiB regions of the program were ever written,
/// so ``forEachNonEmpty(_:)`` visits only those (and within them, only the table pages present,
/// found with `mincore`). Both live until the table is destroyed (`deinit` unmaps them).
///
/// **Invariant.** A word is written only through ``compareExchange(_:expected:desired:)`` or
/// ``store(_:_:)``, and every write of a non-empty state first marks its region in the bitmap,
/// so enumeration never misses a non-empty word. Words are atomics: the fault reader and the
/// evictor change them concurrently, each transition by one compare-and-swap.
public final class PageTable: @unchecked Sendable {
    // @unchecked Sendable: every shared word is an atomic; the pointers never change.

    /// Pages the table covers: the 47-bit user address space in 4 KiB pages.
    public static let pageCount = 1 << 35
    /// log2 of the pages in one bitmap region (1 GiB of the program).
    static let regionShift = 18
    static let regionCount = pageCount >> regionShift

    private let words: UnsafeMutablePointer<Atomic<UInt64>>
    private let regions: UnsafeMutablePointer<Atomic<UInt64>>
    private let reservation: UnsafeMutableRawBufferPointer
    private let regionWords: Int

    /// Reserves the table. Throws the `Errno` of a failed reservation (address space exhausted).
    public init() throws(Errno) {
        let bytes = Self.pageCount * MemoryLayout<UInt64>.stride
        let mapping = try AnonymousMapping(size: bytes, reserveOnly: true)
        reservation = mapping.release()
        words = reservation.baseAddress!.bindMemory(to: Atomic<UInt64>.self, capacity: Self.pageCount)
        regionWords = Self.regionCount / 64
        regions = .allocate(capacity: regionWords)
        for i in 0..<regionWords { (regions + i).initialize(to: Atomic<UInt64>(0)) }
    }

    deinit {
        regions.deinitialize(count: regionWords)
        regions.deallocate()
        _ = munmap(reservation.baseAddress, reservation.count)
    }

    /// Whether `page` (an address >> 12) lies inside the table.
    @inlinable @inline(__always)
    public static func contains(page: UInt64) -> Bool { page < UInt64(pageCount) }

    /// The state of `page` (acquiring). `page` must be inside the table.
    @inline(__always)
    public func load(_ page: UInt64) -> PageState {
        PageState(rawValue: words[Int(page)].load(ordering: .acquiring))
    }

    /// Replaces `expected` with `desired` at `page` if the word still holds `expected`; returns
    /// whether it did and the word found.
    @inline(__always) @discardableResult
    public func compareExchange(_ page: UInt64, expected: PageState, desired: PageState) -> (exchanged: Bool, original: PageState) {
        if desired.rawValue != 0 { markRegion(of: page) }
        let result = words[Int(page)].compareExchange(
            expected: expected.rawValue, desired: desired.rawValue, successOrdering: .acquiringAndReleasing,
            failureOrdering: .acquiring)
        return (result.exchanged, PageState(rawValue: result.original))
    }

    /// Stores `state` at `page` unconditionally (for words only one thread writes at that time).
    @inline(__always)
    public func store(_ page: UInt64, _ state: PageState) {
        if state.rawValue != 0 { markRegion(of: page) }
        words[Int(page)].store(state.rawValue, ordering: .releasing)
    }

    @inline(__always)
    private func markRegion(of page: UInt64) {
        let region = Int(page >> UInt64(Self.regionShift))
        let bit = UInt64(1) << UInt64(region & 63)
        if regions[region >> 6].load(ordering: .relaxed) & bit == 0 {
            regions[region >> 6].bitwiseOr(bit, ordering: .relaxed)
        }
    }

    /// Whether any page of the 1 GiB region holding `page` was ever given a state.
    @inline(__always)
    public func regionTouched(_ page: UInt64) -> Bool {
        let region = Int(page >> UInt64(Self.regionShift))
        return regions[region >> 6].load(ordering: .relaxed) & (UInt64(1) << UInt64(region & 63)) != 0
    }

    /// Calls `body(page, state)` for every page whose state is not empty, in address order.
    /// Pages changed concurrently may be seen in either state.
    public func forEachNonEmpty(_ body: (UInt64, PageState) -> Void) {
        let pageSize = AnonymousMapping.pageSize
        let wordsPerTablePage = pageSize / MemoryLayout<UInt64>.stride
        let tablePagesPerRegion = (1 << Self.regionShift) / wordsPerTablePage
        var present = [UInt8](repeating: 0, count: tablePagesPerRegion)
        for wordIndex in 0..<regionWords {
            var bits = regions[wordIndex].load(ordering: .acquiring)
            while bits != 0 {
                let region = wordIndex * 64 + bits.trailingZeroBitCount
                bits &= bits - 1
                let first = region << Self.regionShift
                let start = UnsafeMutableRawPointer(words + first)
                let rc = present.withUnsafeMutableBufferPointer {
                    mincore(start, tablePagesPerRegion * pageSize, $0.baseAddress)
                }
                for tablePage in 0..<tablePagesPerRegion where rc != 0 || present[tablePage] & 1 != 0 {
                    let base = first + tablePage * wordsPerTablePage
                    for index in base..<(base + wordsPerTablePage) {
                        let raw = words[index].load(ordering: .acquiring)
                        if raw != 0 { body(UInt64(index), PageState(rawValue: raw)) }
                    }
                }
            }
        }
    }

    /// Calls `body(page, state)` for the non-empty pages in `pages`, skipping regions never
    /// touched.
    public func forEachNonEmpty(in pages: Range<UInt64>, _ body: (UInt64, PageState) -> Void) {
        let end = min(pages.upperBound, UInt64(Self.pageCount))
        var page = pages.lowerBound
        let regionPages = UInt64(1) << UInt64(Self.regionShift)
        while page < end {
            let regionEnd = min(end, (page / regionPages + 1) * regionPages)
            if regionTouched(page) {
                for p in page..<regionEnd {
                    let raw = words[Int(p)].load(ordering: .acquiring)
                    if raw != 0 { body(p, PageState(rawValue: raw)) }
                }
            }
            page = regionEnd
        }
    }

    /// Debug-only: every non-empty word lies in a marked region (checked over `pages`).
    public func checkInvariants(pages: Range<UInt64>) {
        #if DEBUG
        for page in pages where Self.contains(page: page) {
            let raw = words[Int(page)].load(ordering: .acquiring)
            precondition(raw == 0 || regionTouched(page), "page \(page) has a state but its region is not marked")
            precondition(PageState(rawValue: raw).kind.rawValue <= PageState.Kind.lost.rawValue, "page \(page) has an unknown kind")
        }
        #endif
    }
}
