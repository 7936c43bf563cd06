import FuzzChecks
import Testing

@Suite struct BlockAllocatorCheckTests {
    static let inputs = FuzzCorpus.inputs(of: BlockAllocatorCheck.name)

    @Test func theCorpusHasSeeds() {
        #expect(Self.inputs.count >= 5)
    }

    @Test(arguments: inputs)
    func everyCommittedInputPasses(_ input: FuzzCorpus.Input) {
        runCorpus(BlockAllocatorCheck(), input)
    }

    /// Every operation on every capacity across word boundaries, from short generated inputs.
    @Test(arguments: [0, 1, 63, 64, 65, 128, 255])
    func generatedSequencesPass(capacity: Int) throws {
        var bytes: [UInt8] = [UInt8(capacity)]
        for i in 0..<400 { bytes += [UInt8(i % 7), UInt8((i * 37) % 256)] }
        try BlockAllocatorCheck().check(bytes)
    }
}
