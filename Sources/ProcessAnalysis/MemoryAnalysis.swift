import PageCodecs
import PageStore
import SystemSupport

/// Analyses the anonymous memory of a running process: reads its present pages (never
/// stopping or attaching to it), finds zero and same-filled pages, and stores every page in a
/// pool per codec so that the pool's real accounting says what compressed swap would use.
///
/// Library use:
/// ```swift
/// var analysis = MemoryAnalysis(pid: pid, codecs: [.lz4], pool: zramPool)
/// let report = try analysis.run()
/// ```
public struct MemoryAnalysis {
    /// The process to read.
    public var pid: Int32
    /// The codecs to try, each with its own pool.
    public var codecs: [PageCodecFactory]
    /// How pools are made.
    public var pool: AnalysisPoolFactory
    /// The percentage of present pages to read, evenly spread (100 = all).
    public var samplePercent: Double = 100
    /// Write the scanned pages back to back to this new file (mode 0600; a link at the path is
    /// refused, never followed; an analysis that fails removes it again).
    public var dumpPath: String? = nil
    /// What happens to a file already at ``dumpPath``: by default only an empty file of this
    /// user is replaced; `.replaceRegularFile` replaces any regular file (`--force`).
    public var dumpExisting: ExistingFilePolicy = .refuseNonEmpty
    /// How pages are read; `nil`: `process_vm_readv`, or `/proc/PID/mem` where that is missing.
    public var reader: (any ProcessPageReader)? = nil
    /// Pages read per batch.
    public var batchPages = 64
    /// Called after each batch with (pages read so far, pages selected).
    public var progress: ((Int, Int) -> Void)? = nil
    /// Called once the dump file exists, before any page is read, with its directory entry: a
    /// command registers the entry's removal with its interrupt handling, so that an analysis
    /// stopped by a signal leaves no partial dump (`uswap analyze` does, with KernelSwap's
    /// `SignalCleanup`). A failed analysis removes the dump itself; a finished one keeps it.
    public var dumpCreated: ((OwnedFileEntry) -> Void)? = nil

    /// An analysis of `pid` with `codecs`, storing pages in pools made by `pool`.
    public init(pid: Int32, codecs: [PageCodecFactory], pool: AnalysisPoolFactory) {
        self.pid = pid
        self.codecs = codecs
        self.pool = pool
    }

    /// The process's page size (the system's).
    public static var systemPageSize: Int { AnonymousMapping.pageSize }

    /// Chooses the pages to read: the present pages of the analysed mappings, evenly thinned
    /// to `samplePercent`. Fills the per-mapping residency counts.
    static func plan(
        mappings: inout [MappingAnalysis], pagemap: PagemapReader, pageSize: Int, samplePercent: Double
    ) throws(ProcessMemoryError) -> [PlannedRun] {
        var runs: [PlannedRun] = []
        var presentSeen = 0
        let fraction = samplePercent / 100
        for index in mappings.indices {
            var figures = mappings[index]
            let mapping = figures.mapping
            var runStart: UInt = 0
            var runPages = 0
            try pagemap.forEachPage(of: mapping, pageSize: pageSize) { page, residency in
                switch residency {
                case .present:
                    figures.presentPages += 1
                    // Bresenham-style: take a page whenever the running quota passes an integer.
                    let chosen =
                        fraction >= 1
                        || Int((Double(presentSeen + 1) * fraction).rounded(.down))
                            > Int((Double(presentSeen) * fraction).rounded(.down))
                    presentSeen += 1
                    if chosen {
                        let address = mapping.start + UInt(page * pageSize)
                        if runPages > 0 && runStart + UInt(runPages * pageSize) == address {
                            runPages += 1
                        } else {
                            if runPages > 0 {
                                runs.append(PlannedRun(mapping: index, address: runStart, pages: runPages))
                            }
                            runStart = address
                            runPages = 1
                        }
                    }
                case .swapped: figures.swappedPages += 1
                case .notPresent: figures.notPresentPages += 1
                }
            }
            if runPages > 0 { runs.append(PlannedRun(mapping: index, address: runStart, pages: runPages)) }
            mappings[index] = figures
        }
        return runs
    }

    /// Runs the analysis.
    ///
    /// - Returns: the report; when the process exits mid-scan, the report of what was read
    ///   until then, with ``MemoryAnalysisReport/processExited`` set.
    /// - Throws: ``MemoryAnalysisError`` when the process cannot be read at all, a codec or
    ///   pool fails, or the dump cannot be written.
    public func run() throws(MemoryAnalysisError) -> MemoryAnalysisReport {
        guard samplePercent > 0, samplePercent <= 100 else { throw .invalidSample(samplePercent) }
        let started = MonotonicClock.seconds()
        let pageSize = Self.systemPageSize
        let batchPages = max(1, self.batchPages)

        // 1. Which mappings and which of their pages.
        var mappings: [MappingAnalysis]
        let runs: [PlannedRun]
        do {
            mappings = try MemoryMapping.read(pid: pid).filter(\.isAnalyzed).map { MappingAnalysis(mapping: $0, codecs: codecs.count) }
            let pagemap = try PagemapReader(pid: pid)
            runs = try Self.plan(mappings: &mappings, pagemap: pagemap, pageSize: pageSize, samplePercent: samplePercent)
        } catch {
            throw .process(error)
        }
        let selected = runs.reduce(0) { $0 + $1.pages }

        // 2. A stream and a pool per codec, sized to the selected pages.
        var sinks: [CodecSink] = []
        for codec in codecs {
            let stream: any PageCodec
            do { stream = try codec.makeStream() } catch { throw .codec(name: codec.description, error) }
            let backend = try pool.make(codec, max(1, selected), pageSize).get()
            sinks.append(CodecSink(codec: codec, stream: stream, pool: backend, pageSize: pageSize, mappings: mappings.count))
        }

        // 3. The reader and the dump.
        let reader: any ProcessPageReader
        do {
            if let given = self.reader {
                reader = given
            } else if let readv = VMReadvPageReader(pid: pid, maxSegments: batchPages) {
                reader = readv
            } else {
                reader = try ProcMemPageReader(pid: pid)
            }
        } catch {
            throw .process(error)
        }
        var dump: DumpFile? = nil
        if let dumpPath {
            let made = try DumpFile(path: dumpPath, existing: dumpExisting)
            if let entry = made.entry { dumpCreated?(entry) }
            dump = made
        }
        var finished = false
        defer { if !finished { dump?.discard() } }

        // 4. Read in batches; analyse each page.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: batchPages * pageSize, alignment: pageSize)
        defer { buffer.deallocate() }
        let segments = UnsafeMutableBufferPointer<RemoteSegment>.allocate(capacity: batchPages)
        defer { segments.deallocate() }
        var pageMapping = [Int](repeating: 0, count: batchPages)

        var report = MemoryAnalysisReport(
            pid: pid, pageSize: pageSize, samplePercent: samplePercent, mappings: mappings, selectedPages: selected,
            codecs: [])
        var runIndex = 0
        var pageInRun = 0
        var scanned = 0
        var handled = 0  // scanned + vanished
        while runIndex < runs.count {
            // Gather up to batchPages pages, one segment per (part of a) run.
            var segmentCount = 0
            var pages = 0
            var r = runIndex
            var p = pageInRun
            while pages < batchPages && r < runs.count {
                let run = runs[r]
                let take = min(batchPages - pages, run.pages - p)
                segments[segmentCount] = RemoteSegment(address: run.address + UInt(p * pageSize), length: take * pageSize)
                for i in 0..<take { pageMapping[pages + i] = run.mapping }
                segmentCount += 1
                pages += take
                p += take
                if p == run.pages {
                    r += 1
                    p = 0
                }
            }
            let bytes: Int
            do {
                bytes = try reader.read(UnsafeBufferPointer(rebasing: segments[0..<segmentCount]), into: buffer)
            } catch .processExited {
                report.processExited = true
                break
            } catch {
                throw .process(error)
            }
            let full = min(pages, bytes / pageSize)
            for i in 0..<full {
                let page = UnsafeRawBufferPointer(start: buffer.baseAddress! + i * pageSize, count: pageSize)
                let m = pageMapping[i]
                var isSame = false
                if let word = SameFilled.word(of: page) {
                    isSame = true
                    if word == 0 { report.mappings[m].zeroPages += 1 } else { report.mappings[m].sameFilledPages += 1 }
                }
                for sink in sinks { try sink.add(page, slot: scanned, mapping: m, isSame: isSame) }
                report.mappings[m].scannedPages += 1
                scanned += 1
            }
            if let dump, full > 0 {
                try dump.write(UnsafeRawBufferPointer(start: buffer.baseAddress, count: full * pageSize))
            }
            // A short read: the page after the full ones is gone; skip it.
            var advance = full
            if full < pages {
                report.vanishedPages += 1
                advance += 1
            }
            handled += advance
            // Move the cursor forward by `advance` pages.
            while advance > 0 && runIndex < runs.count {
                let step = min(advance, runs[runIndex].pages - pageInRun)
                pageInRun += step
                advance -= step
                if pageInRun == runs[runIndex].pages {
                    runIndex += 1
                    pageInRun = 0
                }
            }
            progress?(handled, selected)
        }
        for (index, sink) in sinks.enumerated() {
            for m in report.mappings.indices { report.mappings[m].compressedBytes[index] = sink.compressedBytes[m] }
            report.codecs.append(
                CodecAnalysis(
                    name: sink.codec.description, pool: pool.figures(sink.pool), histogram: sink.histogram,
                    rawPages: sink.rawPages))
        }
        try dump?.close()
        finished = true
        report.seconds = MonotonicClock.seconds() - started
        return report
    }
}
