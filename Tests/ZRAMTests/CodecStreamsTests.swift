import PageCodecs
import Testing

@testable import ZRAM

@Suite struct CodecStreamsTests {
    func makeStreams(count: Int, secondary: Bool = false) throws -> CodecStreams {
        try CodecStreams(
            pageSize: 4096, count: count,
            primaryName: "prefix", makePrimary: { () throws(CodecError) -> any PageCodec in PrefixCodec() },
            secondaryName: "prefix+8",
            makeSecondary: secondary ? { () throws(CodecError) -> any PageCodec in PrefixCodec(padding: 8) } : nil)
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
        #expect(stream.codec(priority: 1)?.name == "prefix+8")
        #expect(stream.codec(priority: 0)?.name == "prefix+0")
    }

    @Test func aFailingCodecMakerBecomesCodecUnavailable() {
        #expect(throws: ZramError.codecUnavailable(codec: "zstd-1", reason: CodecError.libraryUnavailable(library: "libzstd.so.1", reason: "test").description)) {
            _ = try CodecStreams(
                pageSize: 4096, count: 2, primaryName: "zstd-1",
                makePrimary: { () throws(CodecError) -> any PageCodec in throw .libraryUnavailable(library: "libzstd.so.1", reason: "test") },
                secondaryName: "none", makeSecondary: nil)
        }
    }

    @Test func threadsWaitForAStreamWhenAllAreBusy() async throws {
        let streams = try makeStreams(count: 2)
        let counter = Counter()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    for _ in 0..<2_000 {
                        let i = streams.acquire()
                        counter.enter()
                        counter.leave()
                        streams.release(i)
                    }
                }
            }
        }
        #expect(counter.maximum <= 2)
        streams.checkInvariants()
    }
}

import Synchronization

/// Counts concurrent holders and remembers the most seen at once (atomics only, so
/// ThreadSanitizer sees every ordering).
final class Counter: Sendable {
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
