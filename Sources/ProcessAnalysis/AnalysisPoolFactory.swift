import PageCodecs
import PageStore
import ZRAM

/// Memory figures of one pool after the analysis stored the scanned pages in it: the
/// kernel's mm_stat fields.
public struct AnalysisPoolFigures: Sendable, Equatable {
    /// mm_stat orig_data_size: stored pages x page size.
    public var origDataSize = 0
    /// mm_stat compr_data_size: the sum of the stored objects' sizes.
    public var comprDataSize = 0
    /// mm_stat mem_used_total: every byte the pool holds from the system.
    public var memUsedTotal = 0
    /// mm_stat same_pages.
    public var samePages = 0
    /// mm_stat huge_pages: pages stored raw because they did not compress enough.
    public var hugePages = 0
    /// The slot table's memory, when the pool reports it (zram keeps it outside mm_stat).
    public var slotTableBytes: Int? = nil
    /// What the kernel's zram would hold for the same objects (every live span counted whole,
    /// as zsmalloc allocates a zspage), when the pool can say.
    public var kernelMemUsedTotal: Int? = nil
}

extension AnalysisPoolFigures {
    /// The figures from any pool's `SwapBackend.statistics` (no slot table, no kernel
    /// equivalent).
    public init(statisticsOf backend: any SwapBackend) {
        let s = backend.statistics
        self.init(
            origDataSize: s.origDataSize, comprDataSize: s.comprDataSize, memUsedTotal: s.memUsedTotal, samePages: s.samePages,
            hugePages: s.hugePages)
    }
}

/// Makes the pool a codec's pages are stored in (a `ZramDevice` in the command) and reads its
/// figures afterwards.
public struct AnalysisPoolFactory: Sendable {
    /// A pool of `slotCount` slots of `pageSize` bytes that compresses with `codec`, or why
    /// not. (A `Result` rather than a typed-throws closure: Swift 6.3's IR generation crashes on
    /// typed-throws closures that return an existential.)
    public var make: @Sendable (_ codec: PageCodecFactory, _ slotCount: Int, _ pageSize: Int) -> Result<any SwapBackend, MemoryAnalysisError>
    /// A factory that makes pools with `make` and reads them with `figures`.
    public init(
        make: @escaping @Sendable (_ codec: PageCodecFactory, _ slotCount: Int, _ pageSize: Int) -> Result<any SwapBackend, MemoryAnalysisError>,
        figures: @escaping @Sendable (any SwapBackend) -> AnalysisPoolFigures = AnalysisPoolFigures.init(statisticsOf:)
    ) {
        self.make = make
        self.figures = figures
    }

    /// The pool's figures.
    public var figures: @Sendable (any SwapBackend) -> AnalysisPoolFigures = AnalysisPoolFigures.init(statisticsOf:)
}

extension AnalysisPoolFactory {
    /// Pools that are `ZramDevice`s, one per codec, sized to the pages analysed: figures are
    /// the device's own mm_stat, so the pool's real size classes and spans apply.
    public static let zram = AnalysisPoolFactory(
        make: { codec, slotCount, pageSize in
            do throws(ZramError) {
                return .success(
                    try ZramDevice(ZramConfiguration(disksize: slotCount * pageSize, pageSize: pageSize, codec: codec)))
            } catch {
                return .failure(.pool(codec: codec.description, reason: error.description))
            }
        },
        figures: { backend in
            guard let device = backend as? ZramDevice else { return AnalysisPoolFigures(statisticsOf: backend) }
            let m = device.mmStat
            return AnalysisPoolFigures(
                origDataSize: m.origDataSize, comprDataSize: m.comprDataSize, memUsedTotal: m.memUsedTotal,
                samePages: m.samePages, hugePages: m.hugePages, slotTableBytes: device.slotTableBytes,
                kernelMemUsedTotal: device.zsmallocEquivalentBytes)
        })
}
