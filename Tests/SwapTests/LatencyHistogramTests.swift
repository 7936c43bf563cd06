import Synchronization
import Testing
@testable import Swap

@Suite struct LatencyHistogramTests {
    @Test func bucketsAreOrderedAndEveryBoundMapsBackToItsBucket() {
        LatencyHistogram().checkInvariants()
        var previous = -1
        for value: UInt64 in [0, 1, 15, 16, 17, 31, 32, 100, 1_000, 5_000, 1_000_000, 1 << 40, .max] {
            let b = LatencyHistogram.bucket(for: value)
            #expect(b >= previous)
            #expect(LatencyHistogram.lowerBound(of: b) <= value)
            previous = b
        }
    }

    @Test func bucketsAreWithinOneEighthOfTheValue() {
        for value: UInt64 in [20, 999, 6_000, 123_456, 9_999_999] {
            let b = LatencyHistogram.bucket(for: value)
            let lo = LatencyHistogram.lowerBound(of: b), hi = LatencyHistogram.upperBound(of: b)
            #expect(lo <= value && value <= hi)
            #expect(Double(hi - lo) <= Double(value) / 8 + 1)
        }
    }

    @Test func percentilesOfAKnownDistribution() {
        let h = LatencyHistogram()
        // 990 samples at 5 us, 9 at 100 us, 1 at 10 ms.
        for _ in 0..<990 { h.record(nanoseconds: 5_000) }
        for _ in 0..<9 { h.record(nanoseconds: 100_000) }
        h.record(nanoseconds: 10_000_000)
        let s = h.summary()
        #expect(s.count == 1000)
        #expect(abs(s.p50 - 5) < 0.5)
        #expect(abs(s.p99 - 5) < 0.5)
        #expect(abs(s.p999 - 100) < 10)
        h.reset()
        #expect(h.summary() == LatencySummary())
    }

    @Test func recordsFromManyThreadsAreAllCountedWhenMerged() {
        let h = LatencyHistogram(shardCount: 4)
        onThreads(4) { t in
            for i in 0..<10_000 { h.record(nanoseconds: UInt64(1_000 + i % 100 + t)) }
        }
        #expect(h.merged().reduce(0, +) == 40_000)
        #expect(h.summary().count == 40_000)
    }
}
