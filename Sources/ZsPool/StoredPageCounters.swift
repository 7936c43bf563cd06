import Synchronization

/// The counters a store over a ``ZsPool`` keeps about the pages it holds: zram's
/// `pages_stored`, `compr_data_size`, `same_pages`, `huge_pages` and `huge_pages_since`, which
/// with the pool's own figures make `mm_stat` (``mmStat(pool:pageSize:)``).
///
/// Relaxed atomics: each counter is exact on its own; a report reads them one after another,
/// as sysfs does. The store updates them on the paths that change what a slot holds.
public final class StoredPageCounters: Sendable {
    private let stored = Atomic<Int>(0)
    private let compressedBytes = Atomic<Int>(0)
    private let same = Atomic<Int>(0)
    private let huge = Atomic<Int>(0)
    private let hugeSince = Atomic<Int>(0)

    /// All zero.
    public init() {}

    /// Pages stored: same-filled, in the pool, or elsewhere (a written-back page).
    public var pagesStored: Int { stored.load(ordering: .relaxed) }
    /// The sum of the pool objects' sizes (a huge page counts a whole page).
    public var comprDataSize: Int { compressedBytes.load(ordering: .relaxed) }
    /// Pages stored as one repeated word, with no pool object.
    public var samePages: Int { same.load(ordering: .relaxed) }
    /// Pages stored raw (their compressed form reached huge_class_size).
    public var hugePages: Int { huge.load(ordering: .relaxed) }
    /// Pages stored raw since the store was set up (or reset).
    public var hugePagesSince: Int { hugeSince.load(ordering: .relaxed) }

    /// A same-filled page was stored.
    @inline(__always)
    public func addSameFilled() {
        same.add(1, ordering: .relaxed)
        stored.add(1, ordering: .relaxed)
    }

    /// A same-filled page was freed.
    @inline(__always)
    public func removeSameFilled() {
        same.subtract(1, ordering: .relaxed)
        stored.subtract(1, ordering: .relaxed)
    }

    /// A pool object of `size` bytes (`huge`: a raw page) was stored.
    @inline(__always)
    public func addObject(size: Int, huge isHuge: Bool) {
        if isHuge {
            huge.add(1, ordering: .relaxed)
            hugeSince.add(1, ordering: .relaxed)
        }
        compressedBytes.add(size, ordering: .relaxed)
        stored.add(1, ordering: .relaxed)
    }

    /// A pool object of `size` bytes (`huge`: a raw page) was freed.
    @inline(__always)
    public func removeObject(size: Int, huge isHuge: Bool) {
        if isHuge { huge.subtract(1, ordering: .relaxed) }
        compressedBytes.subtract(size, ordering: .relaxed)
        stored.subtract(1, ordering: .relaxed)
    }

    /// A stored object was replaced by one of `newSize` bytes, not huge (recompression).
    public func replaceObject(size: Int, huge wasHuge: Bool, with newSize: Int) {
        if wasHuge { huge.subtract(1, ordering: .relaxed) }
        compressedBytes.add(newSize - size, ordering: .relaxed)
    }

    /// A page stored outside the pool (written back to a file) was added (+1) or freed (-1).
    @inline(__always)
    public func addElsewhere(_ delta: Int) { stored.add(delta, ordering: .relaxed) }

    /// Sets every counter to zero (a device reset).
    public func reset() {
        stored.store(0, ordering: .relaxed)
        compressedBytes.store(0, ordering: .relaxed)
        same.store(0, ordering: .relaxed)
        huge.store(0, ordering: .relaxed)
        hugeSince.store(0, ordering: .relaxed)
    }

    /// mm_stat for these pages in `pool`, whose pages are `pageSize` bytes.
    public func mmStat(pool: ZsPool, pageSize: Int) -> ZsPoolMMStat {
        ZsPoolMMStat(
            origDataSize: pagesStored * pageSize, comprDataSize: comprDataSize, memUsedTotal: pool.memUsedTotal,
            memLimit: pool.memoryLimit, memUsedMax: pool.memUsedMax, samePages: samePages,
            pagesCompacted: pool.pagesCompacted, hugePages: hugePages, hugePagesSince: hugePagesSince)
    }
}
