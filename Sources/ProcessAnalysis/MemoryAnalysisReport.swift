/// The result of analysing one process.
public struct MemoryAnalysisReport: Sendable {
    /// The process analysed.
    public var pid: Int32
    /// Its page size.
    public var pageSize: Int
    /// The percentage of present pages read (100 = all), evenly spread.
    public var samplePercent: Double
    /// The analysed mappings, in address order.
    public var mappings: [MappingAnalysis]
    /// Present pages chosen for reading (all present pages unless sampling).
    public var selectedPages = 0
    /// Pages that were present in the page map but could not be read any more (unmapped meanwhile).
    public var vanishedPages = 0
    /// Whether the process exited before every selected page was read: the figures cover the
    /// pages read until then.
    public var processExited = false
    /// Per codec figures, in the order asked for.
    public var codecs: [CodecAnalysis]
    /// Wall time of the scan in seconds.
    public var seconds = 0.0

    /// A report of `pid` before the scan: its mappings, nothing read yet.
    public init(pid: Int32, pageSize: Int, samplePercent: Double, mappings: [MappingAnalysis], selectedPages: Int = 0, codecs: [CodecAnalysis] = []) {
        self.pid = pid
        self.pageSize = pageSize
        self.samplePercent = samplePercent
        self.mappings = mappings
        self.selectedPages = selectedPages
        self.codecs = codecs
    }

    /// Pages in the analysed mappings.
    public var virtualPages: Int { mappings.reduce(0) { $0 + Int($1.mapping.size) / pageSize } }
    /// Present pages.
    public var presentPages: Int { mappings.reduce(0) { $0 + $1.presentPages } }
    /// Swapped-out pages (skipped).
    public var swappedPages: Int { mappings.reduce(0) { $0 + $1.swappedPages } }
    /// Pages neither present nor swapped (skipped).
    public var notPresentPages: Int { mappings.reduce(0) { $0 + $1.notPresentPages } }
    /// Pages read and analysed.
    public var scannedPages: Int { mappings.reduce(0) { $0 + $1.scannedPages } }
    /// Scanned all-zero pages.
    public var zeroPages: Int { mappings.reduce(0) { $0 + $1.zeroPages } }
    /// Scanned pages of one non-zero word repeated.
    public var sameFilledPages: Int { mappings.reduce(0) { $0 + $1.sameFilledPages } }

    /// The `count` scanned mappings that compress best with codec `index` (highest ratio first;
    /// all-same-filled mappings first of all; ties: more pages first).
    public func bestMappings(codec index: Int, count: Int = 5) -> [MappingAnalysis] {
        Array(ranked(codec: index).prefix(count))
    }

    /// The `count` scanned mappings that compress worst with codec `index` (lowest ratio
    /// first; ties: more pages first).
    public func worstMappings(codec index: Int, count: Int = 5) -> [MappingAnalysis] {
        let worst = mappings.filter { $0.scannedPages > 0 }.sorted { a, b in
            let ra = a.ratio(codec: index, pageSize: pageSize)!
            let rb = b.ratio(codec: index, pageSize: pageSize)!
            if ra != rb { return ra < rb }
            if a.scannedPages != b.scannedPages { return a.scannedPages > b.scannedPages }
            return a.mapping.start < b.mapping.start
        }
        return Array(worst.prefix(count))
    }

    /// Scanned mappings by ratio, best first.
    private func ranked(codec index: Int) -> [MappingAnalysis] {
        mappings.filter { $0.scannedPages > 0 }.sorted { a, b in
            let ra = a.ratio(codec: index, pageSize: pageSize)!
            let rb = b.ratio(codec: index, pageSize: pageSize)!
            if ra != rb { return ra > rb }
            if a.scannedPages != b.scannedPages { return a.scannedPages > b.scannedPages }
            return a.mapping.start < b.mapping.start
        }
    }
}
