import Foundation
import Testing
import TestSupport
import Workloads

@Suite struct CorpusFileTests {
    @Test(arguments: [4096, 8192, 65536])
    func wholePagesAreReadAndTheRemainderIsCounted(_ pageSize: Int) throws {
        let bytes = (0..<(3 * pageSize + 100)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        let file = try CorpusFileFixture(bytes)
        defer { file.remove() }
        let corpus = try CorpusFile(path: file.path, pageSize: pageSize)
        corpus.checkInvariants()
        #expect(corpus.pageCount == 3)
        #expect(corpus.remainderBytes == 100)
        #expect(Array(corpus.bytes) == Array(bytes[..<(3 * pageSize)]))
        #expect(Array(corpus.page(2)) == Array(bytes[(2 * pageSize)..<(3 * pageSize)]))
    }

    @Test func exactlyOnePageHasNoRemainder() throws {
        let file = try CorpusFileFixture([UInt8](repeating: 9, count: 4096))
        defer { file.remove() }
        let corpus = try CorpusFile(path: file.path)
        #expect(corpus.pageCount == 1 && corpus.remainderBytes == 0)
    }

    @Test func sameFilledPagesAreCounted() throws {
        var bytes = [UInt8](repeating: 0, count: 4096)  // zero page
        bytes += [UInt8](repeating: 0xAB, count: 4096)  // one byte repeated
        bytes += (0..<4096).map { UInt8(truncatingIfNeeded: $0) }  // not same-filled
        var almost = [UInt8](repeating: 0, count: 4096); almost[4095] = 1
        bytes += almost  // differs in the last byte
        let file = try CorpusFileFixture(bytes)
        defer { file.remove() }
        #expect(try CorpusFile(path: file.path).sameFilledPageCount() == 2)
    }

    @Test func missingFileIsReportedAsMissing() {
        let path = "/nonexistent-\(UUID().uuidString)/corpus.bin"
        #expect(throws: CorpusError.missing(path: path)) { _ = try CorpusFile(path: path) }
    }

    @Test func emptyFileIsReportedAsEmpty() throws {
        let file = try CorpusFileFixture([])
        defer { file.remove() }
        #expect(throws: CorpusError.empty(path: file.path)) { _ = try CorpusFile(path: file.path) }
    }

    @Test func fileSmallerThanAPageIsRejectedWithItsSize() throws {
        let file = try CorpusFileFixture([UInt8](repeating: 1, count: 5000))
        defer { file.remove() }
        #expect(throws: CorpusError.smallerThanAPage(path: file.path, size: 5000, pageSize: 8192)) {
            _ = try CorpusFile(path: file.path, pageSize: 8192)
        }
        #expect(try CorpusFile(path: file.path, pageSize: 4096).pageCount == 1)
    }

    @Test func directoryIsUnreadable() throws {
        let file = try CorpusFileFixture([1])
        defer { file.remove() }
        #expect { _ = try CorpusFile(path: file.folder.path) } throws: { error in
            guard case CorpusError.unreadable(let path, let reason) = error else { return false }
            return path == file.folder.path && !reason.isEmpty
        }
    }

    @Test(arguments: [0, 1024, 4095, 5000, 12288, 131072])
    func invalidPageSizesAreRejectedBeforeReading(_ pageSize: Int) {
        #expect(throws: CorpusError.invalidPageSize(pageSize)) { _ = try CorpusFile(path: "/does/not/matter", pageSize: pageSize) }
    }
}
