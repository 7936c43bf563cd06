import Synchronization
import Testing

@testable import PageCodecs

/// A codec whose output the tests choose: a page's bytes up to its last nonzero byte, behind a
/// 2-byte length, plus `padding` filler bytes.
private final class TrimmingCodec: PageCodec {
    let padding: Int
    init(padding: Int = 0) { self.padding = padding }
    var name: String { "trim+\(padding)" }
    func maxCompressedSize(for sourceSize: Int) -> Int { sourceSize + 2 + padding }

    func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        var length = source.count
        while length > 0 && source[length - 1] == 0 { length -= 1 }
        let total = length + 2 + padding
        guard total <= destination.count else { return nil }
        destination.storeBytes(of: UInt16(length).littleEndian, toByteOffset: 0, as: UInt16.self)
        if length > 0 { (destination.baseAddress! + 2).copyMemory(from: source.baseAddress!, byteCount: length) }
        for i in 0..<padding { destination[2 + length + i] = 0xA5 }
        return total
    }

    func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
        guard source.count >= 2 else { throw .truncatedInput(offset: 0) }
        let length = Int(UInt16(littleEndian: source.loadUnaligned(as: UInt16.self)))
        guard length <= destination.count, source.count >= length + 2 else { throw .outputOverflow(capacity: destination.count) }
        if length > 0 { destination.baseAddress!.copyMemory(from: source.baseAddress! + 2, byteCount: length) }
        (destination.baseAddress! + length).initializeMemory(as: UInt8.self, repeating: 0, count: destination.count - length)
        return destination.count
    }
}

/// A page of `prefix` nonzero bytes, then zeros.
private func page(prefix: Int, size: Int = 4096) -> [UInt8] {
    (0..<size).map { $0 < prefix ? UInt8(truncatingIfNeeded: $0 % 251 + 1) : 0 }
}

@Suite struct CodecStreamsTests {
    func makeStreams(count: Int, secondary: Bool = false) throws(CodecError) -> CodecStreams {
        try CodecStreams(
            pageSize: 4096, count: count,
            makePrimary: { () throws(CodecError) -> any PageCodec in TrimmingCodec() },
            makeSecondary: secondary ? { () throws(CodecError) -> any PageCodec in TrimmingCodec(padding: 8) } : nil)
    }

    @Test func acquireHandsOutEachStreamOnceUntilReleased() throws {
        let streams = try makeStreams(count: 3)
        let a = streams.acquire(), b = streams.acquire(), c = streams.acquire()
        #expect(Set([a, b, c]) == [0, 1, 2])
        streams.release(b)
        #expect(streams.acquire() == b)
        for i in [a, b, c] { streams.release(i) }
        streams.checkInvariants()
    }

    @Test func scratchHoldsTheWorstCaseOfEitherCodecAndPageBufferOnePage() throws {
        let streams = try makeStreams(count: 1, secondary: true)
        let stream = streams.stream(0)
        #expect(stream.scratch.count >= 4096 + 2 + 8)
        #expect(stream.page.count == 4096)
        #expect(stream.secondary != nil)
        #expect(stream.codec(priority: 1)?.name == "trim+8")
        #expect(stream.codec(priority: 0)?.name == "trim+0")
    }

    @Test func aFailingCodecMakerThrowsItsOwnError() {
        #expect(throws: CodecError.libraryUnavailable(library: "libzstd.so.1", reason: "test")) {
            _ = try CodecStreams(
                pageSize: 4096, count: 2,
                makePrimary: { () throws(CodecError) -> any PageCodec in throw .libraryUnavailable(library: "libzstd.so.1", reason: "test") })
        }
    }

    @Test(arguments: [(100, false), (3000, false), (3630, false), (3631, true), (4096, true)])
    func compressKeepsResultsBelowTheHugeThresholdAndOtherwiseThePage(prefix: Int, raw: Bool) throws {
        let streams = try makeStreams(count: 1)
        let original = page(prefix: prefix)
        var back = [UInt8](repeating: 0xFF, count: 4096)
        try streams.withStream { (stream) throws in
            try original.withUnsafeBytes { (source) throws in
                let (bytes, isRaw) = stream.compress(source, hugeThreshold: 3633)
                #expect(isRaw == raw)
                #expect(bytes.count == (raw ? 4096 : prefix + 2))
                try back.withUnsafeMutableBytes { (buffer) throws in
                    try stream.decode(bytes, isRaw: isRaw, priority: 0, into: buffer)
                }
            }
        }
        #expect(back == original)
        streams.checkInvariants()
    }

    @Test func recompressionKeepsOnlyResultsBelowTheLimit() throws {
        let streams = try makeStreams(count: 1, secondary: true)
        let stream = streams.stream(0)
        page(prefix: 1000).withUnsafeBytes { source in
            #expect(stream.recompress(source, below: 2000) == 1010)
            #expect(stream.recompress(source, below: 1010) == nil)
        }
        let plain = try makeStreams(count: 1)
        page(prefix: 10).withUnsafeBytes { #expect(plain.stream(0).recompress($0, below: 4000) == nil, "no secondary codec") }
    }

    @Test func decodingFailuresAreTypedErrors() throws {
        let streams = try makeStreams(count: 1)
        let stream = streams.stream(0)
        var buffer = [UInt8](repeating: 0, count: 4096)
        let object: [UInt8] = [4, 0, 1, 2, 3, 4]
        try object.withUnsafeBytes { (source) throws in
            try buffer.withUnsafeMutableBytes { (target) throws in
                #expect(throws: CodecError.self) { try stream.decode(source, isRaw: false, priority: 1, into: target) }
                #expect(throws: CodecError.sizeMismatch(expected: 4096, actual: 6)) {
                    try stream.decode(source, isRaw: true, priority: 0, into: target)
                }
                #expect(throws: CodecError.truncatedInput(offset: 0)) {
                    try stream.decode(UnsafeRawBufferPointer(rebasing: source[0..<1]), isRaw: false, priority: 0, into: target)
                }
                try stream.decode(source, isRaw: false, priority: 0, into: target)
            }
        }
        #expect(Array(buffer[0..<5]) == [1, 2, 3, 4, 0])
    }

    @Test func theKnownCodecsAreCalledDirectlyAndRoundTrip() throws {
        // LZ4 is opened to its concrete type in init; the round trip goes through that path.
        let streams = try CodecStreams(pageSize: 4096, count: 1, makePrimary: { () throws(CodecError) -> any PageCodec in LZ4Codec() })
        let original = page(prefix: 4096).enumerated().map { UInt8(truncatingIfNeeded: $0.offset / 64) }
        var back = [UInt8](repeating: 0, count: 4096)
        try streams.withStream { (stream) throws in
            try original.withUnsafeBytes { (source) throws in
                let (bytes, isRaw) = stream.compress(source, hugeThreshold: 3632)
                #expect(!isRaw && bytes.count < 1000)
                try back.withUnsafeMutableBytes { (buffer) throws in
                    try stream.decode(bytes, isRaw: false, priority: 0, into: buffer)
                }
            }
        }
        #expect(back == original)
    }

    @Test func threadsWaitForAStreamWhenAllAreBusy() async throws {
        let streams = try makeStreams(count: 2)
        let counter = Counter()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    for _ in 0..<2_000 {
                        streams.withStream { _ in
                            counter.enter()
                            counter.leave()
                        }
                    }
                }
            }
        }
        #expect(counter.maximum <= 2)
        streams.checkInvariants()
    }
}

/// Counts concurrent holders and remembers the most seen at once (atomics only, so
/// ThreadSanitizer sees every ordering).
private final class Counter: Sendable {
    private let current = Atomic<Int>(0)
    private let highest = Atomic<Int>(0)
    func enter() {
        let now = current.add(1, ordering: .sequentiallyConsistent).newValue
        var seen = highest.load(ordering: .relaxed)
        while seen < now {
            let (done, actual) = highest.compareExchange(expected: seen, desired: now, ordering: .relaxed)
            if done { break }
            seen = actual
        }
    }
    func leave() { current.subtract(1, ordering: .sequentiallyConsistent) }
    var maximum: Int { highest.load(ordering: .relaxed) }
}
