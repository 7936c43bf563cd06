/// Marsaglia's xorshift64 with the shifts (13, 7, 17): the generator of
/// `../shared/tools/swapbench.c`, step for step, so that a Swift run and the C reference draw the
/// same pages in the same order.
public struct XorShift64: Sendable, Equatable {
    /// The seed swapbench.c starts its touch loop from.
    public static let swapbenchSeed: UInt64 = 88_172_645_463_325_252
    /// The seed swapbench.c shuffles its Zipf permutation with.
    public static let permutationSeed: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// The current state; never zero (a zero state would stay zero forever).
    public private(set) var state: UInt64

    /// A generator starting at `seed` (a zero seed is replaced by ``swapbenchSeed``).
    public init(seed: UInt64) {
        state = seed == 0 ? Self.swapbenchSeed : seed
    }

    /// Advances the state and returns it, as `x^=x<<13; x^=x>>7; x^=x<<17;` does in C.
    @inline(__always)
    public mutating func next() -> UInt64 {
        var x = state
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        state = x
        return x
    }
}
