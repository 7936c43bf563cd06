import Foundation
import Testing
@testable import PageCodecs

/// Whether libzstd loads here; tests that need it skip with a printed reason when it does not
/// (and fail when CI=true, where it must be present).
private func zstdAvailable(_ test: String) -> Bool {
    switch LibZstdSymbols.shared {
    case .success: return true
    case .failure(let error):
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("libzstd is required on CI: \(error)")
        } else {
            print("skipping \(test): \(error)")
        }
        return false
    }
}

/// A deterministic pseudo-random byte source (SplitMix64), so failures reproduce.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(state: seed)
    return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
}

/// Edge-case pages: sizes from 0 to 64 KiB, zeros, incompressible noise, short runs, text.
private let edgeCasePages: [(String, [UInt8])] = [
    ("empty", []),
    ("one byte", [0x5A]),
    ("zero page", [UInt8](repeating: 0, count: 4096)),
    ("random page", randomBytes(4096, seed: 1)),
    ("random 64 KiB page", randomBytes(65536, seed: 2)),
    ("half zeros half random", [UInt8](repeating: 0, count: 2048) + randomBytes(2048, seed: 3)),
    ("repeated 3-byte pattern", (0..<4096).map { UInt8($0 % 3) }),
    ("text", Array(String(repeating: "the quick brown fox jumps over the lazy dog; ", count: 92).utf8.prefix(4096))),
    ("13 random bytes", randomBytes(13, seed: 4)),
]

private func roundTrip(_ codec: ZstdCodec, _ page: [UInt8]) throws -> [UInt8] {
    var compressed = [UInt8](repeating: 0, count: codec.maxCompressedSize(for: page.count))
    let size = try #require(page.withUnsafeBytes { src in
        compressed.withUnsafeMutableBytes { codec.compress(src, into: $0) }
    })
    #expect(size <= compressed.count)
    var output = [UInt8](repeating: 0xEE, count: page.count)
    let written = try compressed.withUnsafeBytes { src in
        try output.withUnsafeMutableBytes { try codec.decompress(UnsafeRawBufferPointer(rebasing: src[..<size]), into: $0) }
    }
    #expect(written == page.count)
    return output
}

/// Up to `limit` pages of the repository's corpus (every 16th page, for variety); `nil` (with
/// a printed reason) when it cannot be read here (see ``TestCorpus/load()``).
private func corpusPages(limit: Int) throws -> [[UInt8]]? {
    guard let corpus = try TestCorpus.load() else { return nil }
    return stride(from: 0, to: TestCorpus.pageCount, by: 16).prefix(limit).map { TestCorpus.page(corpus, $0) }
}

@Suite struct ZstdCodecTests {
    @Test(arguments: [1, 3, -1])
    func edgeCasePagesRoundTripAtLevel(_ level: Int) throws {
        guard zstdAvailable(#function) else { return }
        let codec = try ZstdCodec(level: level)
        codec.checkInvariants()
        #expect(codec.name == "zstd-\(level)")
        for (label, page) in edgeCasePages {
            #expect(try roundTrip(codec, page) == page, "\(label) at level \(level)")
        }
        codec.checkInvariants()
    }

    @Test(arguments: [1, 3, -1])
    func corpusPagesRoundTripAndCompressAtLevel(_ level: Int) throws {
        guard zstdAvailable(#function), let pages = try corpusPages(limit: 600) else { return }
        let codec = try ZstdCodec(level: level)
        var compressedTotal = 0
        var compressed = [UInt8](repeating: 0, count: codec.maxCompressedSize(for: 4096))
        for (i, page) in pages.enumerated() {
            #expect(try roundTrip(codec, page) == page, "corpus page \(i * 16) at level \(level)")
            compressedTotal += page.withUnsafeBytes { src in compressed.withUnsafeMutableBytes { codec.compress(src, into: $0) } } ?? 0
        }
        // Heap pages compress well with zstd (3.0-3.2x on this corpus at levels -1...3, 4.1-4.7x
        // on the public heap-mix corpus); 2x is a floor that only a broken codec (or one storing
        // pages raw) misses.
        #expect(Double(pages.count * 4096) / Double(compressedTotal) > 2)
    }

    @Test func streamsOfDifferentLevelsMakeDifferentFramesThatEitherCanRead() throws {
        guard zstdAvailable(#function) else { return }
        let fast = try ZstdCodec(level: -7), strong = try ZstdCodec(level: 19)
        let page = Array(String(repeating: "swap page text with some variety 0123456789 ", count: 100).utf8.prefix(4096))
        var a = [UInt8](repeating: 0, count: 8192), b = a
        let na = try #require(page.withUnsafeBytes { s in a.withUnsafeMutableBytes { fast.compress(s, into: $0) } })
        let nb = try #require(page.withUnsafeBytes { s in b.withUnsafeMutableBytes { strong.compress(s, into: $0) } })
        #expect(nb <= na)
        var out = [UInt8](repeating: 0, count: 4096)
        let n = try a.withUnsafeBytes { s in
            try out.withUnsafeMutableBytes { try strong.decompress(UnsafeRawBufferPointer(rebasing: s[..<na]), into: $0) }
        }
        #expect(n == 4096 && out == page)
    }

    @Test func compressReturnsNilWhenTheDestinationIsTooSmall() throws {
        guard zstdAvailable(#function) else { return }
        let codec = try ZstdCodec(level: 1)
        let page = randomBytes(4096, seed: 9)
        var small = [UInt8](repeating: 0, count: 1000)
        #expect(page.withUnsafeBytes { s in small.withUnsafeMutableBytes { codec.compress(s, into: $0) } } == nil)
        #expect(page.withUnsafeBytes { s in codec.compress(s, into: UnsafeMutableRawBufferPointer(start: nil, count: 0)) } == nil)
        // The stream still works after a failed call.
        #expect(try roundTrip(codec, page) == page)
    }

    @Test func decompressIntoATooSmallDestinationThrowsOutputOverflow() throws {
        guard zstdAvailable(#function) else { return }
        let codec = try ZstdCodec(level: 1)
        let page = [UInt8](repeating: 7, count: 4096)
        var frame = [UInt8](repeating: 0, count: codec.maxCompressedSize(for: 4096))
        let n = try #require(page.withUnsafeBytes { s in frame.withUnsafeMutableBytes { codec.compress(s, into: $0) } })
        var out = [UInt8](repeating: 0, count: 4095)
        #expect(throws: CodecError.outputOverflow(capacity: 4095)) {
            _ = try frame.withUnsafeBytes { s in
                try out.withUnsafeMutableBytes { try codec.decompress(UnsafeRawBufferPointer(rebasing: s[..<n]), into: $0) }
            }
        }
    }

    @Test func corruptOrTruncatedFramesThrowTypedErrors() throws {
        guard zstdAvailable(#function) else { return }
        let codec = try ZstdCodec(level: 1)
        let page = Array(String(repeating: "abcdefgh-0123456789 ", count: 205).utf8.prefix(4096))
        var frame = [UInt8](repeating: 0, count: codec.maxCompressedSize(for: 4096))
        let n = try #require(page.withUnsafeBytes { s in frame.withUnsafeMutableBytes { codec.compress(s, into: $0) } })
        var out = [UInt8](repeating: 0, count: 4096)
        func decode(_ bytes: [UInt8]) throws -> Int {
            try bytes.withUnsafeBytes { s in try out.withUnsafeMutableBytes { d in try codec.decompress(s, into: d) } }
        }
        // A wrong magic number.
        var badMagic = Array(frame[..<n]); badMagic[0] ^= 0xFF
        #expect { _ = try decode(badMagic) } throws: { error in
            guard case CodecError.malformedBlock(_, let reason) = error else { return false }
            return reason.contains("libzstd")
        }
        // Cut short.
        #expect(throws: CodecError.truncatedInput(offset: n - 3)) { _ = try decode(Array(frame[..<(n - 3)])) }
        // Garbage.
        #expect(throws: CodecError.self) { _ = try decode(randomBytes(300, seed: 5)) }
        // Random byte flips: each decode throws or writes within the buffer; never crashes.
        var rng = SplitMix64(state: 77)
        for _ in 0..<2000 {
            var damaged = Array(frame[..<n])
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                damaged[Int.random(in: 0..<n, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            }
            if let written = try? decode(damaged) { #expect(written <= out.count) }
        }
        // The stream still works after errors.
        #expect(try roundTrip(codec, page) == page)
    }

    @Test func missingLibraryThrowsLibraryUnavailableWithAReason() {
        #expect { _ = try ZstdCodec(level: 1, libraryNames: ["libzstd-absent-for-test.so.99"]) } throws: { error in
            guard case CodecError.libraryUnavailable(let library, let reason) = error else { return false }
            return library == "libzstd-absent-for-test.so.99" && !reason.isEmpty
                && "\(error)".contains("unavailable")
        }
    }

    @Test(arguments: [-8, 23, 100])
    func levelsOutsideTheRangeAreRejected(_ level: Int) {
        guard zstdAvailable(#function) else { return }
        #expect { _ = try ZstdCodec(level: level) } throws: { error in
            guard case CodecError.invalidArgument(let message) = error else { return false }
            return message.contains("\(level)")
        }
    }

    @Test func factoryMakesZstdStreamsByName() throws {
        guard zstdAvailable(#function) else { return }
        let factory = try #require(PageCodecFactory(name: "zstd-3"))
        let stream = try factory.makeStream()
        #expect(stream.name == "zstd-3")
        #expect(stream is ZstdCodec)
    }
}
