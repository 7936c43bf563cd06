import FuzzChecks
import PageCodecs
import TestSupport
import Testing

@Suite struct ZstdCheckTests {
    static let inputs = FuzzCorpus.inputs(of: ZstdCheck.name)

    @Test func theCorpusHasSeedsOfEveryMode() {
        #expect(Self.inputs.count >= 20)
        #expect(Set(Self.inputs.compactMap { $0.bytes.first.map { $0 & 3 } }) == [0, 1, 2, 3])
    }

    @Test(arguments: inputs)
    func everyCommittedInputPasses(_ input: FuzzCorpus.Input) {
        guard let check = try? ZstdCheck() else { return CIGate.unavailable("libzstd (apt-get install libzstd1)") }
        runCorpus(check, input)
    }

    @Test func garbageAndEmptyFramesAreErrorsOrNothing() throws {
        guard let check = try? ZstdCheck() else { return CIGate.unavailable("libzstd (apt-get install libzstd1)") }
        try check.check([0, 0])  // an empty frame decodes to nothing
        try check.check([0, 0, 0x28, 0xB5, 0x2F, 0xFD, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])  // a magic number, then garbage
        try check.check([0, 2] + Array(repeating: 0xAA, count: 300))  // no magic number, no room
    }
}
