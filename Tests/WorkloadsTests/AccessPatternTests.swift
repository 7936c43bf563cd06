import Testing
import Workloads

/// Fixtures of the external reference: computed by compiling the generator of
/// ../shared/tools/swapbench.c (its touch loop and Zipf set-up, copied verbatim into a small C
/// program that prints the first touches and a checksum) with gcc -O2 on the development machine.
/// checksum = fold of `sum = sum * 31 + page * 4096 + offset` (wrapping) over all touches.
struct SwapbenchFixture: Sendable, CustomTestStringConvertible {
    var pages: Int
    var touches: Int
    var writePercent: Int
    var zipf: Double
    var thread: Int
    var first: [Touch]
    var checksum: UInt64
    var writes: Int
    var testDescription: String { "\(pages) pages, zipf \(zipf), \(writePercent)% writes, thread \(thread)" }
}

let swapbenchFixtures: [SwapbenchFixture] = [
    SwapbenchFixture(
        pages: 262_144, touches: 1_000_000, writePercent: 30, zipf: 0, thread: 0,
        first: [
            Touch(page: 136_624, offset: 4029, isWrite: false), Touch(page: 50587, offset: 2786, isWrite: false),
            Touch(page: 170_704, offset: 629, isWrite: false), Touch(page: 166_885, offset: 1074, isWrite: false),
            Touch(page: 165_810, offset: 625, isWrite: false), Touch(page: 67133, offset: 391, isWrite: false),
        ],
        checksum: 4_871_880_199_233_580_392, writes: 300_307),
    SwapbenchFixture(
        pages: 262_144, touches: 1_000_000, writePercent: 30, zipf: 0.99, thread: 0,
        first: [
            Touch(page: 106_537, offset: 4029, isWrite: false), Touch(page: 219_635, offset: 2786, isWrite: false),
            Touch(page: 258_228, offset: 629, isWrite: false), Touch(page: 148_153, offset: 1074, isWrite: false),
            Touch(page: 194_028, offset: 625, isWrite: false), Touch(page: 176_854, offset: 391, isWrite: false),
        ],
        checksum: 12_404_076_985_739_005_288, writes: 300_307),
    // seed 88172645463325253 = swapbench's seed + 1: thread 1's stream.
    SwapbenchFixture(
        pages: 16384, touches: 20000, writePercent: 30, zipf: 0.99, thread: 1,
        first: [
            Touch(page: 15485, offset: 2997, isWrite: false), Touch(page: 13192, offset: 2594, isWrite: false),
            Touch(page: 11789, offset: 1181, isWrite: true), Touch(page: 11771, offset: 359, isWrite: true),
            Touch(page: 10343, offset: 2932, isWrite: true), Touch(page: 11771, offset: 4050, isWrite: false),
        ],
        checksum: 3_287_281_112_606_700_362, writes: 5976),
    SwapbenchFixture(
        pages: 1000, touches: 100, writePercent: 50, zipf: 1.2, thread: 0,
        first: [
            Touch(page: 911, offset: 4029, isWrite: true), Touch(page: 792, offset: 2786, isWrite: false),
            Touch(page: 792, offset: 629, isWrite: false), Touch(page: 462, offset: 1074, isWrite: false),
            Touch(page: 693, offset: 625, isWrite: false), Touch(page: 992, offset: 391, isWrite: true),
        ],
        checksum: 1_254_654_948_227_169_178, writes: 54),
]

@Suite struct AccessPatternTests {
    @Test(arguments: swapbenchFixtures)
    func touchesAreBitIdenticalToSwapbench(_ fixture: SwapbenchFixture) {
        let law = PageLaw(pageCount: fixture.pages, zipf: fixture.zipf)
        law.checkInvariants()
        var pattern = AccessPattern(law: law, writePercent: fixture.writePercent, thread: fixture.thread)
        var first: [Touch] = []
        var checksum: UInt64 = 0
        var writes = 0
        for k in 0..<fixture.touches {
            let t = pattern.next()
            if k < fixture.first.count { first.append(t) }
            checksum = checksum &* 31 &+ UInt64(t.page * 4096 + t.offset)
            if t.isWrite { writes += 1 }
        }
        #expect(first == fixture.first)
        #expect(checksum == fixture.checksum)
        #expect(writes == fixture.writes)
    }

    @Test func zipfConcentratesTouchesOnTheTopRanks() {
        let pages = 65536
        let law = PageLaw(pageCount: pages, zipf: 0.99)
        var pattern = AccessPattern(law: law, writePercent: 0)
        var counts = [Int](repeating: 0, count: pages)
        let draws = 500_000
        for _ in 0..<draws { counts[pattern.next().page] += 1 }
        let top = counts[law.page(ofRank: 0)]
        // Rank 0 has weight 1/H(n, 0.99) ~ 8% here; rank 1000 ~ 1/1000 of that.
        #expect(Double(top) / Double(draws) > 0.05)
        #expect(top > 100 * max(1, counts[law.page(ofRank: 1000)]))
        let topOnePercent = (0..<(pages / 100)).reduce(0) { $0 + counts[law.page(ofRank: $1)] }
        #expect(Double(topOnePercent) / Double(draws) > 0.5)
    }

    @Test func uniformSpreadsTouchesEvenly() {
        let pages = 1024
        var pattern = AccessPattern(law: PageLaw(pageCount: pages, zipf: 0), writePercent: 30)
        var counts = [Int](repeating: 0, count: pages)
        var writes = 0
        var offsetsInPage = true
        let draws = 1_024_000
        for _ in 0..<draws {
            let t = pattern.next()
            counts[t.page] += 1
            if t.isWrite { writes += 1 }
            if t.offset < 0 || t.offset >= 4096 { offsetsInPage = false }
        }
        #expect(offsetsInPage)
        // 1000 expected per page: every page within +-20%.
        #expect(counts.min()! > 800 && counts.max()! < 1200)
        #expect(abs(Double(writes) / Double(draws) - 0.30) < 0.01)
    }

    @Test func readOnlyPatternNeverWrites() {
        var pattern = AccessPattern(law: PageLaw(pageCount: 100, zipf: 0.5), writePercent: 0)
        var anyWrite = false
        for _ in 0..<10000 where pattern.next().isWrite { anyWrite = true }
        #expect(!anyWrite)
    }
}
