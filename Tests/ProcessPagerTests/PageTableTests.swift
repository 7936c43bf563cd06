import Testing

@testable import ProcessPager

@Suite struct PageTableTests {
    @Test func aNewTableReadsEmptyEverywhere() throws {
        let table = try PageTable()
        #expect(table.load(0) == .empty)
        #expect(table.load(UInt64(PageTable.pageCount - 1)) == .empty)
        var seen = 0
        table.forEachNonEmpty { _, _ in seen += 1 }
        #expect(seen == 0)
    }

    @Test func compareExchangeSucceedsOnlyFromTheExpectedState() throws {
        let table = try PageTable()
        let resident = PageState(kind: .resident, slot: nil, generation: 1)
        #expect(table.compareExchange(77, expected: .empty, desired: resident).exchanged)
        let again = table.compareExchange(77, expected: .empty, desired: resident)
        #expect(!again.exchanged)
        #expect(again.original == resident)
        #expect(table.load(77) == resident)
    }

    @Test func enumerationVisitsEveryNonEmptyPageInAddressOrderAcrossRegions() throws {
        let table = try PageTable()
        let pages: [UInt64] = [3, 4096, 262_143, 262_144, 1 << 30, UInt64(PageTable.pageCount - 1)]
        for (i, page) in pages.enumerated() { table.store(page, PageState(kind: .swapped, slot: i, generation: 0)) }
        var seen: [UInt64] = []
        table.forEachNonEmpty { page, state in
            seen.append(page)
            #expect(state.kind == .swapped)
        }
        #expect(seen == pages)
        var inRange: [UInt64] = []
        table.forEachNonEmpty(in: 4000..<262_144) { page, _ in inRange.append(page) }
        #expect(inRange == [4096, 262_143])
        table.checkInvariants(pages: 0..<10)
    }

    @Test func storingEmptyRemovesAPageFromEnumeration() throws {
        let table = try PageTable()
        table.store(10, PageState(kind: .resident, slot: nil, generation: 1))
        table.store(10, .empty)
        var seen = 0
        table.forEachNonEmpty { _, _ in seen += 1 }
        #expect(seen == 0)
    }

    @Test func pagesBeyondTheTableAreReportedOutside() {
        #expect(PageTable.contains(page: UInt64(PageTable.pageCount - 1)))
        #expect(!PageTable.contains(page: UInt64(PageTable.pageCount)))
    }
}
