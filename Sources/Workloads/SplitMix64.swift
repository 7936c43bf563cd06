/// SplitMix64 (Steele, Lea and Flood): a 64-bit counter advanced by the golden ratio and mixed,
/// so any position of the stream is computed directly. The test helper's random pages, the demo
/// table's records and the tests that check them draw from it.
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    /// The counter's step, 2^64 divided by the golden ratio.
    public static let golden: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// The counter before the next output.
    public private(set) var state: UInt64

    /// A stream whose first output is ``mix(_:)`` of `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next output.
    @inline(__always)
    public mutating func next() -> UInt64 {
        let output = Self.mix(state)
        state &+= Self.golden
        return output
    }

    /// The output of a stream whose counter is `value`: the counter advanced one step and put
    /// through SplitMix64's finaliser.
    @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ golden
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Output `index` (0 = the first) of the stream seeded with `seed`, without producing the
    /// ones before it.
    public static func output(_ index: Int, seed: UInt64) -> UInt64 {
        mix(seed &+ golden &* UInt64(index))
    }
}
