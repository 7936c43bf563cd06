import SystemSupport
import PageCodecs
import PageStore
import ZRAM

/// What stopped an analysis, with what to do about it.
enum MemoryAnalysisError: Error, CustomStringConvertible {
    /// The process could not be read (gone, permission, a system error).
    case process(ProcessMemoryError)
    /// A codec stream could not be made (e.g. libzstd missing).
    case codec(name: String, CodecError)
    /// The pool for a codec could not be made or refused a page.
    case pool(codec: String, reason: String)
    /// The dump file could not be created or written.
    case dump(path: String, errno: Int32)
    /// A sample percentage outside 0 < p <= 100.
    case invalidSample(Double)

    var description: String {
        switch self {
        case .process(let error): return error.description
        case .codec(let name, let error): return "codec \(name): \(error)"
        case .pool(let codec, let reason):
            return "the \(codec) pool failed: \(reason); try a smaller --sample"
        case .dump(let path, let code):
            return "cannot write the dump \(path): \(String(cString: strerror(code))); choose a writable path with room for it"
        case .invalidSample(let value):
            return "--sample \(value) is not a percentage above 0 and at most 100"
        }
    }
}

/// Memory figures of one pool after the analysis stored the scanned pages in it: the
/// kernel's mm_stat fields.
struct AnalysisPoolFigures: Sendable, Equatable {
    /// mm_stat orig_data_size: stored pages x page size.
    var origDataSize = 0
    /// mm_stat compr_data_size: the sum of the stored objects' sizes.
    var comprDataSize = 0
    /// mm_stat mem_used_total: every byte the pool holds from the system.
    var memUsedTotal = 0
    /// mm_stat same_pages.
    var samePages = 0
    /// mm_stat huge_pages: pages stored raw because they did not compress enough.
    var hugePages = 0
    /// The slot table's memory, when the pool reports it (zram keeps it outside mm_stat).
    var slotTableBytes: Int? = nil
    /// What the kernel's zram would hold for the same objects (every live span counted whole,
    /// as zsmalloc allocates a zspage), when the pool can say.
    var kernelMemUsedTotal: Int? = nil
}

/// Makes the pool a codec's pages are stored in (a `ZramDevice` in the command) and reads its
/// figures afterwards.
struct AnalysisPoolFactory: Sendable {
    /// A pool of `slotCount` slots of `pageSize` bytes that compresses with `codec`, or why
    /// not. (A `Result` rather than a typed-throws closure: Swift 6.3's IR generation crashes on
    /// typed-throws closures that return an existential.)
    var make: @Sendable (_ codec: PageCodecFactory, _ slotCount: Int, _ pageSize: Int) -> Result<any SwapBackend, MemoryAnalysisError>
    /// The pool's figures.
    var figures: @Sendable (any SwapBackend) -> AnalysisPoolFigures = { backend in
        let s = backend.statistics
        return AnalysisPoolFigures(
            origDataSize: s.origDataSize, comprDataSize: s.comprDataSize, memUsedTotal: s.memUsedTotal,
            samePages: s.samePages, hugePages: s.hugePages)
    }
}

extension AnalysisPoolFactory {
    /// Pools that are `ZramDevice`s, one per codec, sized to the pages analysed: figures are
    /// the device's own mm_stat, so the pool's real size classes and spans apply.
    static let zram = AnalysisPoolFactory(
        make: { codec, slotCount, pageSize in
            do throws(ZramError) {
                return .success(
                    try ZramDevice(ZramConfiguration(disksize: slotCount * pageSize, pageSize: pageSize, codec: codec)))
            } catch {
                return .failure(.pool(codec: codec.description, reason: error.description))
            }
        },
        figures: { backend in
            guard let device = backend as? ZramDevice else {
                let s = backend.statistics
                return AnalysisPoolFigures(
                    origDataSize: s.origDataSize, comprDataSize: s.comprDataSize, memUsedTotal: s.memUsedTotal,
                    samePages: s.samePages, hugePages: s.hugePages)
            }
            let m = device.mmStat
            return AnalysisPoolFigures(
                origDataSize: m.origDataSize, comprDataSize: m.comprDataSize, memUsedTotal: m.memUsedTotal,
                samePages: m.samePages, hugePages: m.hugePages, slotTableBytes: device.slotTableBytes,
                kernelMemUsedTotal: device.zsmallocEquivalentBytes)
        })
}

/// The figures of one mapping of the analysed process.
struct MappingAnalysis: Sendable, Equatable {
    /// The mapping as `/proc/PID/maps` lists it.
    var mapping: MemoryMapping
    /// Pages in RAM when the page map was read.
    var presentPages = 0
    /// Pages swapped out (skipped: reading them would swap them in).
    var swappedPages = 0
    /// Pages neither present nor swapped (skipped: never touched).
    var notPresentPages = 0
    /// Pages read and analysed.
    var scannedPages = 0
    /// Scanned pages that are all zero.
    var zeroPages = 0
    /// Scanned pages that are one non-zero word repeated.
    var sameFilledPages = 0
    /// Per codec (in the report's codec order): the bytes its compressed pages take, each page
    /// counted as `min(compressed size, page size)`, same-filled pages as 0.
    var compressedBytes: [Int] = []

    /// Scanned bytes over compressed bytes for codec `index`; infinite when every scanned page
    /// is same-filled, `nil` when nothing was scanned.
    func ratio(codec index: Int, pageSize: Int) -> Double? {
        guard scannedPages > 0 else { return nil }
        let compressed = compressedBytes[index]
        return compressed == 0 ? .infinity : Double(scannedPages * pageSize) / Double(compressed)
    }
}

/// What one codec would do with the scanned pages.
struct CodecAnalysis: Sendable, Equatable {
    /// The codec's name (`lz4`, `zstd-1`).
    var name: String
    /// The pool's figures after storing every scanned page.
    var pool: AnalysisPoolFigures
    /// Compressed pages (same-filled ones excluded) by compressed size, in quarters of a page:
    /// `[..1/4], (1/4..1/2], (1/2..3/4], (3/4..1]`; a page that does not get smaller counts in
    /// the last quarter and in ``rawPages``.
    var histogram: [Int] = [0, 0, 0, 0]
    /// Compressed pages whose compressed form is not smaller than a page.
    var rawPages = 0

    /// orig_data_size / compr_data_size, the kernel's compression ratio (infinite when every
    /// page is same-filled).
    var ratio: Double {
        pool.comprDataSize == 0 ? (pool.origDataSize == 0 ? 1 : .infinity)
            : Double(pool.origDataSize) / Double(pool.comprDataSize)
    }
    /// The scanned pages' bytes minus what the pool uses for them (negative: a loss).
    var savedBytes: Int { pool.origDataSize - pool.memUsedTotal }
    /// ``savedBytes`` as a percentage of the scanned bytes.
    var savedPercent: Double {
        pool.origDataSize == 0 ? 0 : Double(savedBytes) * 100 / Double(pool.origDataSize)
    }
}

/// The result of analysing one process.
struct MemoryAnalysisReport: Sendable {
    /// The process analysed.
    var pid: Int32
    /// Its page size.
    var pageSize: Int
    /// The percentage of present pages read (100 = all), evenly spread.
    var samplePercent: Double
    /// The analysed mappings, in address order.
    var mappings: [MappingAnalysis]
    /// Present pages chosen for reading (all present pages unless sampling).
    var selectedPages = 0
    /// Pages that were present in the page map but could not be read any more (unmapped meanwhile).
    var vanishedPages = 0
    /// Whether the process exited before every selected page was read: the figures cover the
    /// pages read until then.
    var processExited = false
    /// Per codec figures, in the order asked for.
    var codecs: [CodecAnalysis]
    /// Wall time of the scan in seconds.
    var seconds = 0.0

    /// Pages in the analysed mappings.
    var virtualPages: Int { mappings.reduce(0) { $0 + Int($1.mapping.size) / pageSize } }
    /// Present pages.
    var presentPages: Int { mappings.reduce(0) { $0 + $1.presentPages } }
    /// Swapped-out pages (skipped).
    var swappedPages: Int { mappings.reduce(0) { $0 + $1.swappedPages } }
    /// Pages neither present nor swapped (skipped).
    var notPresentPages: Int { mappings.reduce(0) { $0 + $1.notPresentPages } }
    /// Pages read and analysed.
    var scannedPages: Int { mappings.reduce(0) { $0 + $1.scannedPages } }
    /// Scanned all-zero pages.
    var zeroPages: Int { mappings.reduce(0) { $0 + $1.zeroPages } }
    /// Scanned pages of one non-zero word repeated.
    var sameFilledPages: Int { mappings.reduce(0) { $0 + $1.sameFilledPages } }

    /// The `count` scanned mappings that compress best with codec `index` (highest ratio first;
    /// all-same-filled mappings first of all; ties: more pages first).
    func bestMappings(codec index: Int, count: Int = 5) -> [MappingAnalysis] {
        Array(ranked(codec: index).prefix(count))
    }

    /// The `count` scanned mappings that compress worst with codec `index` (lowest ratio
    /// first; ties: more pages first).
    func worstMappings(codec index: Int, count: Int = 5) -> [MappingAnalysis] {
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

/// A run of selected pages inside one mapping.
struct PlannedRun: Equatable {
    /// Index of the mapping in the report.
    var mapping: Int
    /// The first page's address.
    var address: UInt
    /// How many pages.
    var pages: Int
}

/// Analyses the anonymous memory of a running process: reads its present pages (never
/// stopping or attaching to it), finds zero and same-filled pages, and stores every page in a
/// pool per codec so that the pool's real accounting says what compressed swap would use.
///
/// Library use:
/// ```swift
/// var analysis = MemoryAnalysis(pid: pid, codecs: [.lz4], pool: zramPool)
/// let report = try analysis.run()
/// ```
struct MemoryAnalysis {
    /// The process to read.
    var pid: Int32
    /// The codecs to try, each with its own pool.
    var codecs: [PageCodecFactory]
    /// How pools are made.
    var pool: AnalysisPoolFactory
    /// The percentage of present pages to read, evenly spread (100 = all).
    var samplePercent: Double = 100
    /// Write the scanned pages back to back to this file.
    var dumpPath: String? = nil
    /// How pages are read; `nil`: `process_vm_readv`, or `/proc/PID/mem` where that is missing.
    var reader: (any ProcessPageReader)? = nil
    /// Pages read per batch.
    var batchPages = 64
    /// Called after each batch with (pages read so far, pages selected).
    var progress: ((Int, Int) -> Void)? = nil

    /// An analysis of `pid` with `codecs`, storing pages in pools made by `pool`.
    init(pid: Int32, codecs: [PageCodecFactory], pool: AnalysisPoolFactory) {
        self.pid = pid
        self.codecs = codecs
        self.pool = pool
    }

    /// The process's page size (the system's).
    static var systemPageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

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
    func run() throws(MemoryAnalysisError) -> MemoryAnalysisReport {
        guard samplePercent > 0, samplePercent <= 100 else { throw .invalidSample(samplePercent) }
        let started = MonotonicClock.seconds()
        let pageSize = Self.systemPageSize
        let batchPages = max(1, self.batchPages)

        // 1. Which mappings and which of their pages.
        var mappings: [MappingAnalysis]
        let runs: [PlannedRun]
        do {
            mappings = try MemoryMapping.read(pid: pid).filter(\.isAnalyzed).map {
                MappingAnalysis(mapping: $0, compressedBytes: [Int](repeating: 0, count: codecs.count))
            }
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
        if let dumpPath { dump = try DumpFile(path: dumpPath) }

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
        report.seconds = MonotonicClock.seconds() - started
        return report
    }
}

/// One codec's side of an analysis: its stream, its pool, and what it has seen.
///
/// Owns a scratch buffer of `maxCompressedSize(pageSize)` bytes (allocated in `init`, freed in
/// `deinit`) that `add` compresses into; the per-mapping array is sized once, never grown.
final class CodecSink {
    let codec: PageCodecFactory
    let stream: any PageCodec
    let pool: any SwapBackend
    let pageSize: Int
    private let scratch: UnsafeMutableRawBufferPointer
    private(set) var histogram = [0, 0, 0, 0]
    private(set) var rawPages = 0
    private(set) var compressedBytes: [Int]

    init(codec: PageCodecFactory, stream: any PageCodec, pool: any SwapBackend, pageSize: Int, mappings: Int) {
        self.codec = codec
        self.stream = stream
        self.pool = pool
        self.pageSize = pageSize
        scratch = .allocate(byteCount: max(pageSize, stream.maxCompressedSize(for: pageSize)), alignment: 16)
        compressedBytes = [Int](repeating: 0, count: mappings)
    }

    deinit { scratch.deallocate() }

    /// Debug builds: checks the scratch holds a worst-case compressed page, the histogram has
    /// four quarters, and the counts agree.
    func checkInvariants() {
        #if DEBUG
        precondition(scratch.count >= max(pageSize, stream.maxCompressedSize(for: pageSize)), "scratch too small")
        precondition(histogram.count == 4 && histogram.allSatisfy { $0 >= 0 }, "histogram damaged")
        precondition(rawPages <= histogram[3], "raw pages are counted in the last quarter")
        #endif
    }

    /// Compresses `page` (unless same-filled) for the histogram and stores it in the pool at `slot`.
    func add(_ page: UnsafeRawBufferPointer, slot: Int, mapping: Int, isSame: Bool) throws(MemoryAnalysisError) {
        if !isSame {
            let size = min(stream.compress(page, into: scratch) ?? pageSize, pageSize)
            if size >= pageSize { rawPages += 1 }
            histogram[min(3, max(0, (size - 1) * 4 / pageSize))] += 1
            compressedBytes[mapping] += size
        }
        do {
            try pool.writePage(page, at: slot)
        } catch {
            throw .pool(codec: codec.description, reason: error.description)
        }
    }
}

/// The `--dump` file: scanned pages back to back.
///
/// Owns one descriptor from `init` to ``close()`` (or `deinit`).
private final class DumpFile {
    let path: String
    private var fd: Int32

    init(path: String) throws(MemoryAnalysisError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .dump(path: path, errno: errno) }
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    func write(_ bytes: UnsafeRawBufferPointer) throws(MemoryAnalysisError) {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw .dump(path: path, errno: errno)
            }
            done += n
        }
    }

    func close() throws(MemoryAnalysisError) {
        guard fd >= 0 else { return }
        let result = Glibc.close(fd)
        fd = -1
        if result != 0 { throw .dump(path: path, errno: errno) }
    }
}
