/// zram's `mm_stat` for a store kept in a ``ZsPool``: its memory figures, with the kernel's
/// exact line. ZRAM reports it as `ZramMMStat`; ZSwap's cache reports the same figures for
/// its pool, so the two read alike.
public struct ZsPoolMMStat: Sendable, Equatable {
    /// orig_data_size: stored pages x page size, same-filled pages included (bytes).
    public var origDataSize: Int
    /// compr_data_size: sum of stored object sizes; huge pages count a full page, same-filled 0.
    public var comprDataSize: Int
    /// mem_used_total: every byte the pool holds from the system (slot table excluded).
    public var memUsedTotal: Int
    /// mem_limit in bytes, 0 for none.
    public var memLimit: Int
    /// mem_used_max: the high-water mark of mem_used_total.
    public var memUsedMax: Int
    /// same_pages: slots holding a same-filled page.
    public var samePages: Int
    /// pages_compacted: system pages freed by compaction since the store was set up.
    public var pagesCompacted: Int
    /// huge_pages: slots holding an uncompressed page.
    public var hugePages: Int
    /// huge_pages_since: pages stored huge since the store was set up.
    public var hugePagesSince: Int

    /// Makes a record from its fields.
    public init(
        origDataSize: Int, comprDataSize: Int, memUsedTotal: Int, memLimit: Int, memUsedMax: Int,
        samePages: Int, pagesCompacted: Int, hugePages: Int, hugePagesSince: Int
    ) {
        self.origDataSize = origDataSize
        self.comprDataSize = comprDataSize
        self.memUsedTotal = memUsedTotal
        self.memLimit = memLimit
        self.memUsedMax = memUsedMax
        self.samePages = samePages
        self.pagesCompacted = pagesCompacted
        self.hugePages = hugePages
        self.hugePagesSince = hugePagesSince
    }

    /// The sysfs text exactly as mm_stat_show prints it (`%8llu` fields, one space apart,
    /// trailing newline).
    public var line: String {
        [origDataSize, comprDataSize, memUsedTotal, memLimit, memUsedMax, samePages, pagesCompacted,
         hugePages, hugePagesSince].map(Self.field).joined(separator: " ") + "\n"
    }

    /// Formats `value` as the kernel's `%8llu` / `%8ld`: right-aligned in at least 8 columns.
    /// Every zram sysfs line (mm_stat, io_stat, bd_stat, debug_stat) is made of these.
    public static func field(_ value: Int) -> String {
        let text = String(value)
        return text.count >= 8 ? text : String(repeating: " ", count: 8 - text.count) + text
    }
}
