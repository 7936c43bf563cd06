import Foundation
import FuzzChecks
import Testing

@Suite struct FuzzCorpusTests {
    @Test func seedsAreWrittenUnderTheirHashAndReadBack() throws {
        let directory = NSTemporaryDirectory() + "fuzz-corpus-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let seeds: [[UInt8]] = [[1, 2, 3], [], [1, 2, 3]]
        #expect(try FuzzCorpus.write(seeds: seeds, to: directory) == 2)
        let inputs = FuzzCorpus.inputs(in: directory)
        #expect(inputs.map(\.name).sorted() == [FuzzCorpus.seedName([]), FuzzCorpus.seedName([1, 2, 3])].sorted())
        #expect(FuzzCorpus.inputs(at: directory + "/" + FuzzCorpus.seedName([1, 2, 3])).first?.bytes == [1, 2, 3])
        #expect(FuzzCorpus.inputs(at: directory + "/missing").isEmpty)
    }

    @Test func everyTargetHasACommittedCorpus() {
        for name in ["FuzzLZ4Decode", "FuzzLZ4RoundTrip", "FuzzZstd", "FuzzZram", "FuzzFrontswap", "FuzzBlockAllocator"] {
            #expect(!FuzzCorpus.inputs(of: name).isEmpty, "Tests/FuzzCorpus/\(name) is empty")
        }
    }

    @Test func failuresSayWhatToDoWithTheInput() {
        let failure = FuzzFailure(target: "FuzzZram", step: 3, "read returned a different page")
        #expect(failure.description.hasPrefix("FuzzZram at operation 3: read returned a different page."))
        #expect(failure.description.contains("Tests/FuzzCorpus/FuzzZram/"))
    }
}
