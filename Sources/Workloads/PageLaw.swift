import SystemSupport

/// Which page a touch lands on: uniform over `0..<pageCount`, or Zipf(s) over a fixed random
/// permutation of the pages, exactly as swapbench.c builds it (the cumulative weights `1/(i+1)^s`
/// summed in index order and normalised, the permutation shuffled by Fisher-Yates with
/// ``XorShift64/permutationSeed``).
///
/// Memory: the cumulative table and the permutation are two buffers of `pageCount` elements
/// allocated by the initialiser (Zipf only), owned by this object, freed in `deinit`, never
/// written after the initialiser returns; so threads may share one law (hence `Sendable`).
/// Invariant: `cdf` is non-decreasing and ends at 1.0 (within rounding), `permutation` is a
/// permutation of `0..<pageCount`.
public final class PageLaw: @unchecked Sendable {
    /// The number of pages drawn from.
    public let pageCount: Int
    /// The Zipf exponent; 0 means uniform.
    public let exponent: Double
    private let cdf: UnsafeMutableBufferPointer<Double>
    private let permutation: UnsafeMutableBufferPointer<Int>

    /// A law over `pageCount` pages (at least 1): uniform when `zipf` is 0, else Zipf(`zipf`).
    public init(pageCount: Int, zipf: Double) {
        precondition(pageCount > 0, "a page law needs at least one page")
        precondition(zipf >= 0 && zipf.isFinite, "the Zipf exponent must be a finite number >= 0")
        self.pageCount = pageCount
        self.exponent = zipf
        if zipf > 0 {
            cdf = .allocate(capacity: pageCount)
            permutation = .allocate(capacity: pageCount)
            var sum = 0.0
            for i in 0..<pageCount {
                sum += 1.0 / pow(Double(i + 1), zipf)
                cdf[i] = sum
            }
            for i in 0..<pageCount {
                cdf[i] /= sum
                permutation[i] = i
            }
            var shuffle = XorShift64(seed: XorShift64.permutationSeed)
            var i = pageCount - 1
            while i > 0 {
                let j = Int(shuffle.next() % UInt64(i + 1))
                permutation.swapAt(i, j)
                i -= 1
            }
        } else {
            cdf = UnsafeMutableBufferPointer(start: nil, count: 0)
            permutation = UnsafeMutableBufferPointer(start: nil, count: 0)
        }
    }

    deinit {
        cdf.deallocate()
        permutation.deallocate()
    }

    /// The page for the generator output `x`: `x % pageCount` when uniform, else the page at the
    /// rank whose cumulative weight first reaches `(x >> 11) / 2^53`.
    @inline(__always)
    public func page(for x: UInt64) -> Int {
        if exponent == 0 { return Int(x % UInt64(pageCount)) }
        let u = Double(x >> 11) * (1.0 / 9_007_199_254_740_992.0)
        var lo = 0
        var hi = pageCount - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cdf[mid] < u { lo = mid + 1 } else { hi = mid }
        }
        return permutation[lo]
    }

    /// The page of rank `rank` (0 = the most popular); the identity when uniform.
    public func page(ofRank rank: Int) -> Int {
        precondition(rank >= 0 && rank < pageCount, "rank \(rank) outside 0..<\(pageCount)")
        return exponent == 0 ? rank : permutation[rank]
    }

    /// Checks the invariant (debug builds; tests call it).
    public func checkInvariants() {
        #if DEBUG
        guard exponent > 0 else { return }
        var seen = [Bool](repeating: false, count: pageCount)
        var previous = 0.0
        for i in 0..<pageCount {
            precondition(cdf[i] >= previous, "cdf decreases at \(i)")
            previous = cdf[i]
            let p = permutation[i]
            precondition(p >= 0 && p < pageCount && !seen[p], "permutation repeats or leaves range at \(i)")
            seen[p] = true
        }
        precondition(abs(previous - 1.0) < 1e-9, "cdf ends at \(previous), not 1")
        #endif
    }
}
