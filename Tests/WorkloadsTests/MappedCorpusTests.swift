import Foundation
import Testing
import Workloads
import TestSupport

@Suite struct MappedCorpusTests {
    @Test func theWholePagesOfTheFileAreMappedAndTheRemainderLeftOut() throws {
        let bytes = (0..<(3 * 4096 + 123)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let file = try CorpusFileFixture(bytes)
        defer { file.remove() }
        let corpus = try MappedCorpus(path: file.path)
        corpus.checkInvariants()
        #expect(corpus.bytes.count == 3 * 4096)
        #expect(Array(corpus.bytes) == Array(bytes[..<(3 * 4096)]))
    }

    @Test func aMissingOrTooSmallFileIsAClearError() throws {
        #expect(throws: CorpusError.missing(path: "/nonexistent-uswap/corpus.bin")) {
            _ = try MappedCorpus(path: "/nonexistent-uswap/corpus.bin")
        }
        let small = try CorpusFileFixture([1, 2, 3])
        defer { small.remove() }
        #expect(throws: CorpusError.smallerThanAPage(path: small.path, size: 3, pageSize: 4096)) {
            _ = try MappedCorpus(path: small.path)
        }
        #expect { _ = try MappedCorpus(path: small.folder.path) } throws: { error in
            if case CorpusError.unreadable = error { true } else { false }
        }
    }
}
