import Testing
import Workloads

@Suite struct PageLawTests {
    /// swapbench.c's Fisher-Yates permutation (same C program): perm[0], perm[1], perm[n-1].
    @Test(arguments: [(262_144, 0.99, [117_421, 11708, 216_493]), (16384, 0.99, [11771, 10070, 3501]), (1000, 1.2, [792, 689, 989])])
    func permutationMatchesSwapbench(pages: Int, zipf: Double, expected: [Int]) {
        let law = PageLaw(pageCount: pages, zipf: zipf)
        #expect([law.page(ofRank: 0), law.page(ofRank: 1), law.page(ofRank: pages - 1)] == expected)
    }

    @Test(arguments: [0.0, 0.5, 0.99, 1.2])
    func everyLawHoldsItsInvariantsAndKeepsPagesInRange(zipf: Double) {
        let law = PageLaw(pageCount: 777, zipf: zipf)
        law.checkInvariants()
        var generator = XorShift64(seed: 7)
        var inRange = true
        for _ in 0..<10000 where !(0..<777).contains(law.page(for: generator.next())) { inRange = false }
        #expect(inRange)
        #expect(Set((0..<777).map(law.page(ofRank:))).count == 777)
    }
}
