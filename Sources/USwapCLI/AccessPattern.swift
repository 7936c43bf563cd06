#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Marsaglia's xorshift64 with the shifts (13, 7, 17): the generator of
/// `../shared/tools/swapbench.c`, step for step, so that a Swift run and the C reference draw the
/// same pages in the same order.
struct XorShift64: Sendable, Equatable {
    /// The seed swapbench.c starts its touch loop from.
    static let swapbenchSeed: UInt64 = 88_172_645_463_325_252
    /// The seed swapbench.c shuffles its Zipf permutation with.
    static let permutationSeed: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// The current state; never zero (a zero state would stay zero forever).
    private(set) var state: UInt64

    /// A generator starting at `seed` (a zero seed is replaced by ``swapbenchSeed``).
    init(seed: UInt64) {
        state = seed == 0 ? Self.swapbenchSeed : seed
    }

    /// Advances the state and returns it, as `x^=x<<13; x^=x>>7; x^=x<<17;` does in C.
    @inline(__always)
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}

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
final class PageLaw: @unchecked Sendable {
    /// The number of pages drawn from.
    let pageCount: Int
    /// The Zipf exponent; 0 means uniform.
    let exponent: Double
    private let cdf: UnsafeMutableBufferPointer<Double>
    private let permutation: UnsafeMutableBufferPointer<Int>

    /// A law over `pageCount` pages (at least 1): uniform when `zipf` is 0, else Zipf(`zipf`).
    init(pageCount: Int, zipf: Double) {
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
    func page(for x: UInt64) -> Int {
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
    func page(ofRank rank: Int) -> Int {
        precondition(rank >= 0 && rank < pageCount, "rank \(rank) outside 0..<\(pageCount)")
        return exponent == 0 ? rank : permutation[rank]
    }

    /// Checks the invariant (debug builds; tests call it).
    func checkInvariants() {
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

/// One access of the workload: a byte of a page, read or incremented.
struct Touch: Sendable, Equatable {
    /// The page index in the region.
    var page: Int
    /// The byte offset inside the 4 KiB page.
    var offset: Int
    /// Whether the byte is incremented (else it is read).
    var isWrite: Bool
}

/// The stream of touches of one thread of swapbench.c's touch loop: each touch advances the
/// xorshift64 state once and takes the page from the ``PageLaw``, the byte offset from bits
/// 20... (`(x >> 20) % 4096`) and the write decision from bits 40... (`(x >> 40) % 100 < P`).
struct AccessPattern: Sendable {
    /// The byte offsets are taken modulo this: swapbench.c's page size.
    static let touchPageSize = 4096

    /// The page law shared by all threads.
    let law: PageLaw
    /// The percentage of touches that write, 0...100.
    let writePercent: UInt64
    private var generator: XorShift64

    /// The stream of thread `thread` (0 for a single thread, which is swapbench.c's stream):
    /// seeded with ``XorShift64/swapbenchSeed`` + `thread`.
    init(law: PageLaw, writePercent: Int, thread: Int = 0) {
        precondition((0...100).contains(writePercent), "write percentage must be 0...100")
        self.law = law
        self.writePercent = UInt64(writePercent)
        self.generator = XorShift64(seed: XorShift64.swapbenchSeed &+ UInt64(thread))
    }

    /// The next touch.
    @inline(__always)
    mutating func next() -> Touch {
        let x = generator.next()
        return Touch(
            page: law.page(for: x),
            offset: Int((x >> 20) % UInt64(Self.touchPageSize)),
            isWrite: writePercent != 0 && (x >> 40) % 100 < writePercent)
    }
}
