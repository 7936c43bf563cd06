import Synchronization
import Testing

@testable import PageCodecs

/// A 4 KiB page: `noise` bytes of pseudo-random data, then zeros (LZ4 keeps the noise about as
/// it is, so the compressed size follows it).
private func page(noise: Int, seed: UInt64 = 1) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<4096).map { i in
        guard i < noise else { return 0 }
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return UInt8(truncatingIfNeeded: state >> 24)
    }
}

private func lz4() -> any PageCodec { LZ4Codec() }

@Suite struct CodecStreamsTests {
    func makeStreams(count: Int, secondary: Bool = false) -> CodecStreams {
        CodecStreams(
            pageSize: 4096, count: count, makePrimary: lz4,
            makeSecondary: secondary ? { () -> any PageCodec in LZ4Codec(acceleration: 8) } : nil)
    }

    /// LZ4's size for `bytes`, measured directly.
    func compressedSize(_ bytes: [UInt8]) -> Int {
        var room = [UInt8](repeating: 0, count: 8192)
        return bytes.withUnsafeBytes { source in room.withUnsafeMutableBytes { LZ4Codec().compress(source, into: $0)! } }
    }

    @Test func acquireHandsOutEachStreamOnceUntilReleased() {
        let streams = makeStreams(count: 3)
        let a = streams.acquire(), b = streams.acquire(), c = streams.acquire()
        #expect(Set([a, b, c]) == [0, 1, 2])
        streams.release(b)
        #expect(streams.acquire() == b)
        for i in [a, b, c] { streams.release(i) }
        streams.checkInvariants()
    }

    @Test func scratchHoldsTheWorstCaseOfEitherCodecAndPageBufferOnePage() {
        let streams = makeStreams(count: 1, secondary: true)
        let stream = streams.stream(0)
        #expect(stream.scratch.count >= LZ4Codec().maxCompressedSize(for: 4096))
        #expect(stream.page.count == 4096)
        #expect(stream.codec(priority: 0) === stream.primary)
        #expect(stream.codec(priority: 1) === stream.secondary)
        #expect((stream.secondary as? LZ4Codec)?.acceleration == 8)
    }

    @Test func aFailingCodecMakerThrowsItsOwnError() {
        #expect(throws: CodecError.libraryUnavailable(library: "libzstd.so.1", reason: "test")) {
            _ = try CodecStreams(
                pageSize: 4096, count: 2,
                makePrimary: { () throws(CodecError) -> any PageCodec in throw .libraryUnavailable(library: "libzstd.so.1", reason: "test") })
        }
    }

    @Test(arguments: [0, 100, 2000, 3500, 4096])
    func compressKeepsResultsBelowTheHugeThresholdAndOtherwiseThePage(noise: Int) throws {
        let streams = makeStreams(count: 1)
        let original = page(noise: noise)
        let size = compressedSize(original)
        var back = [UInt8](repeating: 0xFF, count: 4096)
        // Just below the threshold the page is compressed; at it, stored raw.
        for (threshold, raw) in [(size + 1, false), (size, true)] {
            try streams.withStream { (stream) throws in
                try original.withUnsafeBytes { (source) throws in
                    let (bytes, isRaw) = stream.compress(source, hugeThreshold: threshold)
                    #expect(isRaw == raw)
                    #expect(bytes.count == (raw ? 4096 : size))
                    try back.withUnsafeMutableBytes { (buffer) throws in
                        try stream.decode(bytes, isRaw: isRaw, priority: 0, into: buffer)
                    }
                }
            }
            #expect(back == original)
        }
        streams.checkInvariants()
    }

    @Test func recompressionKeepsOnlyResultsBelowTheLimit() {
        let streams = makeStreams(count: 1, secondary: true)
        let original = page(noise: 1000)
        var room = [UInt8](repeating: 0, count: 8192)
        let size = original.withUnsafeBytes { source in room.withUnsafeMutableBytes { LZ4Codec(acceleration: 8).compress(source, into: $0)! } }
        original.withUnsafeBytes { source in
            #expect(streams.stream(0).recompress(source, below: size + 1) == size)
            #expect(streams.stream(0).recompress(source, below: size) == nil)
        }
        let plain = makeStreams(count: 1)
        original.withUnsafeBytes { #expect(plain.stream(0).recompress($0, below: 4000) == nil, "no secondary codec") }
    }

    @Test func decodingFailuresAreTypedErrors() throws {
        let stream = makeStreams(count: 1).stream(0)
        var buffer = [UInt8](repeating: 0, count: 4096)
        let original = page(noise: 300)
        var compressed = [UInt8](repeating: 0, count: 8192)
        let size = original.withUnsafeBytes { source in compressed.withUnsafeMutableBytes { LZ4Codec().compress(source, into: $0)! } }
        try compressed.withUnsafeBytes { (all) throws in
            let object = UnsafeRawBufferPointer(rebasing: all[0..<size])
            try buffer.withUnsafeMutableBytes { (target) throws in
                #expect(throws: CodecError.self) { try stream.decode(object, isRaw: false, priority: 1, into: target) }
                #expect(throws: CodecError.sizeMismatch(expected: 4096, actual: size)) {
                    try stream.decode(object, isRaw: true, priority: 0, into: target)
                }
                #expect(throws: CodecError.self, "a truncated block") {
                    try stream.decode(UnsafeRawBufferPointer(rebasing: object[0..<(size / 2)]), isRaw: false, priority: 0, into: target)
                }
                #expect(throws: CodecError.self, "a page that does not fit the buffer") {
                    try stream.decode(object, isRaw: false, priority: 0, into: UnsafeMutableRawBufferPointer(rebasing: target[0..<2048]))
                }
                try stream.decode(object, isRaw: false, priority: 0, into: target)
            }
        }
        #expect(buffer == original)
    }

    @Test func threadsWaitForAStreamWhenAllAreBusy() async {
        let streams = makeStreams(count: 2)
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
