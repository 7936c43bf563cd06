import Synchronization
import SystemSupport

/// Percentiles of a latency distribution, in microseconds.
public struct LatencySummary: Sendable, Equatable, CustomStringConvertible {
    /// The median.
    public var p50: Double
    /// The 99th percentile.
    public var p99: Double
    /// The 99.9th percentile.
    public var p999: Double
    /// How many samples the summary covers.
    public var count: Int

    /// A summary from its fields.
    public init(p50: Double = 0, p99: Double = 0, p999: Double = 0, count: Int = 0) {
        self.p50 = p50
        self.p99 = p99
        self.p999 = p999
        self.count = count
    }

    /// "p50 ... us, p99 ... us, p999 ... us (n samples)".
    public var description: String {
        func format(_ value: Double) -> String {
            let tenths = Int((value * 10).rounded())
            return "\(tenths / 10).\(tenths % 10)"
        }
        return "p50 \(format(p50)) us, p99 \(format(p99)) us, p999 \(format(p999)) us (\(count) samples)"
    }
}

/// A latency histogram that threads record into without allocating or locking: fixed
/// log-linear buckets (8 per power of two, exact below 16 ns), one preallocated set per shard,
/// a thread writing to the shard its thread identity picks; shards are merged when read.
///
/// Recording is async-signal-safe (a `pthread_self`, a multiply and one relaxed atomic add), so
/// a SIGBUS handler serving a fault records into it. That is why it is written here by hand
/// rather than built on a general metrics type: nothing on the recording path may allocate,
/// lock, or run a lazy initializer.
///
/// ```swift
/// let latency = LatencyHistogram()
/// let start = DispatchTime.now().uptimeNanoseconds
/// serveOneFault()
/// latency.record(nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
/// print(latency.summary())  // "p50 ... us, p99 ... us, p999 ... us (1 samples)"
/// ```
///
/// Memory: `shardCount x bucketCount` atomic counters, allocated at init and freed with the
/// histogram, which alone owns them.
public final class LatencyHistogram: Sendable {
    /// Buckets per shard: 16 exact values, then 8 sub-buckets for each power of two 2^4...2^43 ns.
    public static let bucketCount = 16 + 40 * 8
    /// The number of shards threads spread their samples over.
    public let shardCount: Int
    private let counts: AtomicArray<UInt64>

    /// An empty histogram with `shardCount` (at least 1) shards: about one per thread that
    /// records at once keeps their counters on different cache lines; the default of 16 covers
    /// the threads that fault at once on a 16-way machine, and more only makes the merge longer.
    public init(shardCount: Int = 16) {
        precondition(shardCount > 0, "at least one shard")
        self.shardCount = shardCount
        counts = AtomicArray(count: shardCount * Self.bucketCount, initialValue: 0)
    }

    /// The bucket a value (in nanoseconds) falls in.
    @inline(__always)
    public static func bucket(for nanoseconds: UInt64) -> Int {
        if nanoseconds < 16 { return Int(nanoseconds) }
        let exponent = 63 - nanoseconds.leadingZeroBitCount  // >= 4
        let sub = Int((nanoseconds >> UInt64(exponent - 3)) & 7)
        return min(16 + (exponent - 4) * 8 + sub, bucketCount - 1)
    }

    /// The smallest value (ns) of a bucket.
    public static func lowerBound(of bucket: Int) -> UInt64 {
        if bucket < 16 { return UInt64(bucket) }
        let exponent = (bucket - 16) / 8 + 4
        let sub = UInt64((bucket - 16) % 8)
        return (8 + sub) << UInt64(exponent - 3)
    }

    /// The largest value (ns) of a bucket.
    public static func upperBound(of bucket: Int) -> UInt64 {
        bucket + 1 < bucketCount ? lowerBound(of: bucket + 1) - 1 : .max
    }

    /// Records one sample, in nanoseconds. Async-signal-safe.
    @inline(__always)
    public func record(nanoseconds: UInt64) {
        let shard = NativeThread.currentSlot(count: shardCount)
        counts[shard * Self.bucketCount + Self.bucket(for: nanoseconds)].add(1, ordering: .relaxed)
    }

    /// All shards merged: counts per bucket.
    public func merged() -> [UInt64] {
        var result = [UInt64](repeating: 0, count: Self.bucketCount)
        for shard in 0..<shardCount {
            for b in 0..<Self.bucketCount {
                result[b] += counts[shard * Self.bucketCount + b].load(ordering: .relaxed)
            }
        }
        return result
    }

    /// p50, p99 and p999 in microseconds: the midpoint of the bucket holding the percentile.
    public func summary() -> LatencySummary {
        let buckets = merged()
        let total = buckets.reduce(0, +)
        guard total > 0 else { return LatencySummary() }
        func percentile(_ q: Double) -> Double {
            let rank = max(1, UInt64((Double(total) * q).rounded(.up)))
            var seen: UInt64 = 0
            for (b, c) in buckets.enumerated() where c > 0 {
                seen += c
                if seen >= rank {
                    let lo = Double(Self.lowerBound(of: b))
                    let hi = b + 1 < Self.bucketCount ? Double(Self.lowerBound(of: b + 1)) : lo
                    return (lo + hi) / 2 / 1000
                }
            }
            return 0
        }
        return LatencySummary(p50: percentile(0.5), p99: percentile(0.99), p999: percentile(0.999), count: Int(total))
    }

    /// Zeroes every bucket (samples recorded meanwhile may be lost or kept).
    public func reset() {
        for i in 0..<counts.count { counts[i].store(0, ordering: .relaxed) }
    }

    /// Debug-only: bucket bounds are increasing and cover each other's edges.
    public func checkInvariants() {
        #if DEBUG
        counts.checkInvariants()
        for b in 1..<Self.bucketCount {
            precondition(Self.lowerBound(of: b) > Self.lowerBound(of: b - 1), "bucket bounds must increase")
            precondition(Self.bucket(for: Self.lowerBound(of: b)) == b, "bucket \(b) lower bound maps back")
        }
        #endif
    }
}
