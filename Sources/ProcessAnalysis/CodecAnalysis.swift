/// What one codec would do with the scanned pages.
public struct CodecAnalysis: Sendable, Equatable {
    /// The codec's name (`lz4`, `zstd-1`).
    public var name: String
    /// The pool's figures after storing every scanned page.
    public var pool: AnalysisPoolFigures
    /// Compressed pages (same-filled ones excluded) by compressed size, in quarters of a page:
    /// `[..1/4], (1/4..1/2], (1/2..3/4], (3/4..1]`; a page that does not get smaller counts in
    /// the last quarter and in ``rawPages``.
    public var histogram: [Int] = [0, 0, 0, 0]
    /// Compressed pages whose compressed form is not smaller than a page.
    public var rawPages = 0

    /// The figures of codec `name`.
    public init(name: String, pool: AnalysisPoolFigures, histogram: [Int] = [0, 0, 0, 0], rawPages: Int = 0) {
        self.name = name
        self.pool = pool
        self.histogram = histogram
        self.rawPages = rawPages
    }

    /// orig_data_size / compr_data_size, the kernel's compression ratio (infinite when every
    /// page is same-filled).
    public var ratio: Double {
        pool.comprDataSize == 0 ? (pool.origDataSize == 0 ? 1 : .infinity)
            : Double(pool.origDataSize) / Double(pool.comprDataSize)
    }
    /// The scanned pages' bytes minus what the pool uses for them (negative: a loss).
    public var savedBytes: Int { pool.origDataSize - pool.memUsedTotal }
    /// ``savedBytes`` as a percentage of the scanned bytes.
    public var savedPercent: Double {
        pool.origDataSize == 0 ? 0 : Double(savedBytes) * 100 / Double(pool.origDataSize)
    }
}
