/// How the session set zswap up, and what it found (to put back).
public struct KernelZswapSetup: Sendable, Equatable {
    /// The swap file (in /var/tmp unless the session was given another directory).
    public let swapFilePath: String
    /// Its size: twice the region, as kzswap.sh.
    public let swapFileBytes: Int
    /// The compressor zswap uses during the run.
    public let compressor: String
    /// Why it is not lz4, or empty when it is.
    public let compressorNote: String
    /// max_pool_percent during the run.
    public let maxPoolPercent: Int
    /// Every parameter of ``ZswapParameters/names`` as found.
    public let original: [String: String]
}
