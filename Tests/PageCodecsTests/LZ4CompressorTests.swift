import Foundation
import Testing

@testable import PageCodecs

@Suite struct LZ4CompressorTests {
    /// Pages of every kind, for the destination-size tests.
    private static func pages() -> [[UInt8]] {
        var rng = LZ4TestRandom(seed: 5)
        var pages: [[UInt8]] = [
            [UInt8](repeating: 0, count: 4096),
            rng.bytes(4096),
            rng.bytes(100),
            (0..<4096).map { UInt8($0 % 7) },
            (0..<65536).map { UInt8(($0 / 3) % 256) },
            rng.bytes(12),
        ]
        if let corpus = try? TestCorpus.bytes.get() {
            for p in stride(from: 3, to: TestCorpus.pageCount, by: 200) { pages.append(TestCorpus.page(corpus, p)) }
        }
        return pages
    }

    /// For every destination size from 0 to past the bound: a too-small destination gives `nil`
    /// and no byte is written outside it; a large enough one gives the same block as the bound.
    @Test func tooSmallDestinationReturnsNilAndWritesNothingOutside() throws {
        let codec = LZ4Codec()
        for page in Self.pages() {
            let full = try #require(lz4Compress(codec, page))
            let bound = codec.maxCompressedSize(for: page.count)
            // Every size near the block's size, and a sample of the rest.
            let sizes = Array(0...min(40, bound)) + Array(max(0, full.count - 40)...min(full.count + 40, bound)) + [bound - 1, bound]
            for capacity in sizes where capacity >= 0 {
                let guardSize = 32
                let raw = UnsafeMutableRawPointer.allocate(byteCount: capacity + 2 * guardSize, alignment: 1)
                defer { raw.deallocate() }
                raw.initializeMemory(as: UInt8.self, repeating: 0xC3, count: capacity + 2 * guardSize)
                let result = page.withUnsafeBytes { codec.compress($0, into: UnsafeMutableRawBufferPointer(start: raw + guardSize, count: capacity)) }
                for k in 0..<guardSize {
                    #expect(raw.load(fromByteOffset: k, as: UInt8.self) == 0xC3, "capacity \(capacity): wrote before the destination")
                    #expect(raw.load(fromByteOffset: guardSize + capacity + k, as: UInt8.self) == 0xC3, "capacity \(capacity): wrote past the destination")
                }
                if capacity < full.count {
                    #expect(result == nil, "capacity \(capacity) < \(full.count) must give nil")
                } else if let result {
                    #expect(result == full.count)
                    #expect(Array(UnsafeRawBufferPointer(start: raw + guardSize, count: result)) == full)
                } else {
                    // liblz4's own margins may refuse a destination just big enough; never the bound.
                    #expect(capacity < bound, "capacity \(capacity) >= bound \(bound) must not give nil")
                }
            }
        }
        codec.checkInvariants()
    }

    /// A stream's output never depends on what it compressed before (the table holds the last
    /// input's positions between calls and is cleared by the next), and compressing many pages
    /// keeps the table's invariant.
    @Test func outputDoesNotDependOnEarlierPages() throws {
        let pages = Self.pages()
        let warm = LZ4Codec()
        for (k, page) in pages.enumerated() {
            for _ in 0..<(k % 5) { _ = lz4Compress(warm, pages[(k + 1) % pages.count]) }
            let fresh = LZ4Codec()
            #expect(lz4Compress(warm, page) == lz4Compress(fresh, page))
            warm.checkInvariants()
        }
    }

    /// Swift-compressed blocks are liblz4's blocks byte for byte (the same algorithm and table,
    /// an empty slot naming position 0 as liblz4's cleared table does), at acceleration 1 and 8,
    /// for every corpus page and the odd pages: the ratio cannot drift.
    @Test(arguments: [1, 8])
    func blocksAreLiblz4sBlocksByteForByte(acceleration: Int) throws {
        let lib = try #require(try? LibLZ4(acceleration: acceleration), "liblz4 is needed as the reference")
        let swift = LZ4Codec(acceleration: acceleration)
        var pages = Self.pages()
        if let corpus = try TestCorpus.load() {
            pages += (0..<TestCorpus.pageCount).map { TestCorpus.page(corpus, $0) }
        }
        var differing = 0
        for page in pages {
            let a = try #require(lz4Compress(swift, page))
            let b = try #require(lz4Compress(lib, page))
            if a != b {
                differing += 1
                if differing < 4 { Issue.record("Swift \(a.count) vs liblz4 \(b.count) bytes for a \(page.count)-byte page") }
            }
        }
        #expect(differing == 0)
        swift.checkInvariants()
    }
}
