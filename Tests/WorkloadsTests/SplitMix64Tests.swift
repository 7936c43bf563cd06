import Testing
import Workloads

@Suite struct SplitMix64Tests {
    /// The reference outputs of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
    @Test func outputsMatchTheReferenceImplementation() {
        var generator = SplitMix64(seed: 0)
        #expect(generator.next() == 0xE220_A839_7B1D_CDAF)
        #expect(generator.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(generator.next() == 0x06C4_5D18_8009_454F)
    }

    @Test(arguments: [0, 1, 511, 100_000])
    func anyOutputIsComputedDirectly(index: Int) {
        var generator = SplitMix64(seed: 42)
        for _ in 0..<index { _ = generator.next() }
        #expect(SplitMix64.output(index, seed: 42) == generator.next())
    }

    @Test func mixIsTheFirstOutputOfAStreamSeededWithTheValue() {
        var generator = SplitMix64(seed: 123_456)
        #expect(SplitMix64.mix(123_456) == generator.next())
        #expect(generator.state == 123_456 &+ SplitMix64.golden)
    }
}
