import Testing
import Workloads

@Suite struct XorShift64Tests {
    @Test func generatorFollowsXorshift64WithShifts13_7_17() {
        var g = XorShift64(seed: 1)
        var x: UInt64 = 1
        x ^= x << 13; x ^= x >> 7; x ^= x << 17
        #expect(g.next() == x)
        #expect(XorShift64(seed: 0).state == XorShift64.swapbenchSeed)
    }

    @Test func theSameSeedGivesTheSameStream() {
        var a = XorShift64(seed: XorShift64.swapbenchSeed)
        var b = XorShift64(seed: XorShift64.swapbenchSeed)
        for _ in 0..<100 { #expect(a.next() == b.next()) }
        #expect(a.state != 0)
    }
}
