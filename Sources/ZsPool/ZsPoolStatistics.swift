/// A ``ZsPool``'s own figures, as zsmalloc reports them (`zs_get_total_pages`,
/// `zs_pool_stats`) plus what this pool adds.
public struct ZsPoolStatistics: Sendable, Equatable {
    /// mem_used_total: bytes of every live span's committed pages.
    public var memUsedTotal: Int
    /// mem_used_max: the high-water mark of ``memUsedTotal``.
    public var memUsedMax: Int
    /// mem_limit: the most bytes the pool commits, 0 for none.
    public var memLimit: Int
    /// pages_compacted: system pages compaction gave back since the pool was made (or reset).
    public var pagesCompacted: Int
    /// Objects in use.
    public var objects: Int
    /// Live spans.
    public var spans: Int
    /// What zsmalloc would hold for the same spans, each allocated whole.
    public var zsmallocEquivalentBytes: Int
    /// Bookkeeping outside the pool (span descriptors), not in ``memUsedTotal``.
    public var metadataBytes: Int

    /// Makes a record from its fields.
    public init(
        memUsedTotal: Int, memUsedMax: Int, memLimit: Int, pagesCompacted: Int, objects: Int, spans: Int,
        zsmallocEquivalentBytes: Int, metadataBytes: Int
    ) {
        self.memUsedTotal = memUsedTotal
        self.memUsedMax = memUsedMax
        self.memLimit = memLimit
        self.pagesCompacted = pagesCompacted
        self.objects = objects
        self.spans = spans
        self.zsmallocEquivalentBytes = zsmallocEquivalentBytes
        self.metadataBytes = metadataBytes
    }
}
