import Testing

@testable import ZsPool

@Suite struct SizeClassTableTests {
    @Test func hugeClassSizeIsTheKernels3632OnFourKiBPages() {
        #expect(SizeClassTable(pageSize: 4096).hugeClassSize == 3632)
    }

    @Test(arguments: [4096, 8192, 16384, 65536])
    func everyClassPacksItsObjectsIntoAtMostEightPages(pageSize: Int) {
        let table = SizeClassTable(pageSize: pageSize)
        #expect(table.delta == pageSize >> 8)
        for c in 0..<table.count {
            #expect((1...8).contains(table.pagesPerSpan[c]))
            #expect(table.objectsPerSpan[c] == table.pagesPerSpan[c] * pageSize / table.sizes[c])
            #expect(table.objectsPerSpan[c] >= 1)
            if c > 0 { #expect(table.sizes[c] > table.sizes[c - 1]) }
        }
        #expect(table.sizes.last == pageSize)
        #expect(table.pagesPerSpan[table.hugeClassIndex] == 1 && table.objectsPerSpan[table.hugeClassIndex] == 1)
    }

    @Test(arguments: [4096, 65536])
    func mergedClassesHaveDistinctShapesAndHugeSizesShareTheRawPageClass(pageSize: Int) {
        let table = SizeClassTable(pageSize: pageSize)
        for c in 1..<table.count {
            let same = table.pagesPerSpan[c] == table.pagesPerSpan[c - 1] && table.objectsPerSpan[c] == table.objectsPerSpan[c - 1]
            #expect(!same, "classes \(c - 1) and \(c) should have been merged")
        }
        #expect(table.count < 256)
        // hugeClassSize is the largest size whose class is not "one page, one object"; every
        // size above it shares the raw page's class.
        let largestPacked = table.classIndex(forSize: table.hugeClassSize)
        #expect(largestPacked < table.hugeClassIndex)
        #expect(table.sizes[largestPacked] == table.hugeClassSize)
        #expect(!(table.pagesPerSpan[largestPacked] == 1 && table.objectsPerSpan[largestPacked] == 1))
        #expect(table.classIndex(forSize: table.hugeClassSize + 1) == table.hugeClassIndex)
    }

    @Test func everySizeMapsToTheSmallestClassThatHoldsIt() {
        let table = SizeClassTable(pageSize: 4096)
        for size in 1...4096 {
            let c = table.classIndex(forSize: size)
            #expect(table.sizes[c] >= size)
            if c > 0 { #expect(table.sizes[c - 1] < size || size <= SizeClassTable.minimumSize) }
        }
        #expect(table.classIndex(forSize: 1) == 0)
        #expect(table.sizes[0] == 32)
    }

    @Test func chainSizeFollowsZsmallocsSmallestTailRule() {
        // 3632 B: 8 pages hold 9 objects with an 80-byte tail, the best of 1...8 pages.
        #expect(SizeClassTable.pagesPerSpan(forSize: 3632, pageSize: 4096) == 8)
        // Powers of two take one page.
        #expect(SizeClassTable.pagesPerSpan(forSize: 1024, pageSize: 4096) == 1)
        // 3648 B: one page is the best (448-byte tail), so it is a one-object class.
        #expect(SizeClassTable.pagesPerSpan(forSize: 3648, pageSize: 4096) == 1)
    }
}
