import FuzzChecks
import Testing

@Suite struct ZramSequenceCheckTests {
    static let inputs = FuzzCorpus.inputs(of: ZramSequenceCheck.name)

    @Test func theCorpusHasSeeds() {
        #expect(Self.inputs.count >= 5)
    }

    @Test(arguments: inputs)
    func everyCommittedInputPasses(_ input: FuzzCorpus.Input) {
        runCorpus(ZramSequenceCheck(), input)
    }

    /// Random byte strings are operation sequences too: each runs against the model.
    @Test(arguments: 0..<16)
    func randomSequencesPass(seed: Int) throws {
        var state = UInt64(seed + 1) &* 0x9E37_79B9_7F4A_7C15
        var bytes: [UInt8] = []
        for _ in 0..<3000 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            bytes.append(UInt8(truncatingIfNeeded: state >> 24))
        }
        try ZramSequenceCheck().check(bytes)
    }
}
