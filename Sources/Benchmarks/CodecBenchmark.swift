import PageCodecs
import SystemSupport
import Workloads

/// Which codecs `uswap bench codec` measures.
public enum CodecSelection: String, CaseIterable, Sendable {
    /// Our LZ4 and liblz4.
    case lz4
    /// zstd at each requested level.
    case zstd
    /// Both.
    case all
}

/// The settings of one codec benchmark run (the command's flags, without argv).
public struct CodecBenchOptions: Sendable {
    /// The corpus file.
    public var corpusPath: String
    /// Page size in bytes (a valid `PageSize`).
    public var pageSize: Int = PageSize.default
    /// Which codecs.
    public var selection: CodecSelection = .all
    /// LZ4 acceleration, for ours and liblz4 alike.
    public var acceleration: Int = 1
    /// zstd levels, in order.
    public var zstdLevels: [Int] = [1]
    /// Timed passes per codec and direction; the best is reported.
    public var passes: Int = 5

    /// The settings, each as its property says (the defaults are the command's).
    public init(
        corpusPath: String, pageSize: Int = PageSize.default, selection: CodecSelection = .all, acceleration: Int = 1,
        zstdLevels: [Int] = [1], passes: Int = 5
    ) {
        self.corpusPath = corpusPath
        self.pageSize = pageSize
        self.selection = selection
        self.acceleration = acceleration
        self.zstdLevels = zstdLevels
        self.passes = passes
    }

    /// The accelerations liblz4 accepts (`LZ4_ACCELERATION_MAX` is 65537).
    public static let accelerations = 1...65537

    /// Parses `1,-1,3` into levels, each in -7...22, without repeats.
    public static func parseLevels(_ text: String) throws(CodecBenchError) -> [Int] {
        var levels: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = part.trimmingCharacters(in: " ")
            guard let level = Int(trimmed) else { throw .badLevelList(text) }
            guard ZstdCodec.levels.contains(level) else { throw .invalidLevel(level) }
            if !levels.contains(level) { levels.append(level) }
        }
        guard !levels.isEmpty else { throw .badLevelList(text) }
        return levels
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return s
    }
}

/// What went wrong in a codec benchmark, with what to do about it.
public enum CodecBenchError: Error, Equatable, CustomStringConvertible {
    /// The corpus could not be used.
    case corpus(CorpusError)
    /// An acceleration outside 1...65537.
    case invalidAcceleration(Int)
    /// A zstd level outside -7...22.
    case invalidLevel(Int)
    /// `--zstd-levels` is not a comma-separated list of integers.
    case badLevelList(String)
    /// A pass count below 1.
    case invalidPasses(Int)

    /// What went wrong and what to do.
    public var description: String {
        switch self {
        case .corpus(let error): error.description
        case .invalidAcceleration(let a): "acceleration \(a) is out of range: use 1 (LZ4_compress_default) to 65537"
        case .invalidLevel(let l): "zstd level \(l) is out of range: use levels from -7 (fastest) to 22 (smallest)"
        case .badLevelList(let t): "'\(t)' is not a list of zstd levels: write them comma-separated, e.g. --zstd-levels 1,-1,3"
        case .invalidPasses(let p): "\(p) passes: at least one timed pass is needed"
        }
    }
}

/// One codec's figures over a corpus.
public struct CodecFigures: Equatable, Sendable {
    /// The codec's name (`lz4`, `liblz4`, `zstd-1`).
    public var name: String
    /// Pages compressed.
    public var pages: Int
    /// Uncompressed bytes (pages × page size).
    public var inputBytes: Int
    /// Sum of the compressed sizes.
    public var compressedBytes: Int
    /// The fastest compression pass, seconds.
    public var compressSeconds: Double
    /// The fastest decompression pass, seconds.
    public var decompressSeconds: Double

    /// Input bytes per compressed byte.
    public var ratio: Double { Double(inputBytes) / Double(compressedBytes) }
    /// Uncompressed megabytes (10^6 bytes) compressed per second.
    public var compressMBps: Double { Double(inputBytes) / compressSeconds / 1e6 }
    /// Uncompressed megabytes (10^6 bytes) produced by decompression per second.
    public var decompressMBps: Double { Double(inputBytes) / decompressSeconds / 1e6 }
}

/// The result for one codec.
public enum CodecOutcome: Equatable, Sendable {
    /// Measured, and every page decoded to the original.
    case measured(CodecFigures)
    /// The codec's library could not be loaded.
    case unavailable(name: String, reason: String)
    /// The codec failed: a page did not round-trip, or compression failed with a worst-case buffer.
    case failed(name: String, reason: String)

    /// The codec's name.
    public var name: String {
        switch self {
        case .measured(let f): f.name
        case .unavailable(let name, _), .failed(let name, _): name
        }
    }
}

/// The result of a whole run.
public struct CodecBenchReport: Sendable {
    /// One outcome per codec, in the order measured.
    public var outcomes: [CodecOutcome]
    /// Pages that are one word repeated (counted, not skipped).
    public var sameFilledPages: Int
    /// The fastest pass of `SameFilled` over every page, seconds (0 when not timed).
    public var sameFilledSeconds: Double = 0
    /// Page size in bytes.
    public var pageSize: Int
    /// Pages in the corpus.
    public var pageCount: Int
    /// The corpus path.
    public var corpus: String
    /// Trailing bytes of the corpus that did not make a page (ignored).
    public var remainderBytes: Int

    /// Whether no codec failed (unavailable libraries are not failures).
    public var allVerified: Bool { failures.isEmpty }

    /// `name: reason` for each failed codec.
    public var failures: [String] {
        outcomes.compactMap { if case .failed(let name, let reason) = $0 { "\(name): \(reason)" } else { nil } }
    }

    /// The report as a table for people, with a line per unavailable or failed codec.
    public var table: String {
        var lines = [
            "corpus \(corpus): \(pageCount) pages of \(pageSize) bytes, \(sameFilledPages) same-filled"
                + " (check: \(formatted(sameFilledSeconds / Double(max(pageCount, 1)) * 1e6, digits: 3)) us/page)"
                + (remainderBytes > 0 ? ", \(remainderBytes) trailing bytes ignored" : "")
        ]
        var table = TextTable(headers: ["codec", "ratio", "compress MB/s", "decompress MB/s", "C us/page", "D us/page"])
        var notes: [String] = []
        for outcome in outcomes {
            switch outcome {
            case .measured(let f):
                table.append([
                    f.name, formatted(f.ratio, digits: 3), formatted(f.compressMBps, digits: 0),
                    formatted(f.decompressMBps, digits: 0), formatted(f.compressSeconds / Double(f.pages) * 1e6, digits: 2),
                    formatted(f.decompressSeconds / Double(f.pages) * 1e6, digits: 2),
                ])
            case .unavailable(let name, let reason): notes.append("\(name): unavailable (\(reason))")
            case .failed(let name, let reason): notes.append("\(name): FAILED (\(reason))")
            }
        }
        lines.append(table.rendered)
        return (lines + notes).joined(separator: "\n")
    }
}

extension CodecBenchReport: Encodable {
    private enum CodingKeys: String, CodingKey {
        case codecs, pages, corpus
        case sameFilledPages = "same_filled_pages", pageSize = "page_size", remainderBytes = "remainder_bytes"
        case sameFilledCheck = "same_filled_check_us_per_page"
    }

    /// The `--json` object: `codecs` (one entry per codec, in the order measured), the corpus
    /// and its same-filled pages, and the same-filled check's cost per page.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(outcomes, forKey: .codecs)
        try container.encode(sameFilledPages, forKey: .sameFilledPages)
        try container.encode(pageSize, forKey: .pageSize)
        try container.encode(pageCount, forKey: .pages)
        try container.encode(corpus, forKey: .corpus)
        try container.encode(remainderBytes, forKey: .remainderBytes)
        try container.encode(sameFilledSeconds / Double(max(pageCount, 1)) * 1e6, forKey: .sameFilledCheck)
    }
}

extension CodecOutcome: Encodable {
    private enum CodingKeys: String, CodingKey {
        case name, pages, ratio, verified, unavailable, failed
        case compressMBps = "compress_mbps", decompressMBps = "decompress_mbps", inputBytes = "input_bytes"
        case compressedBytes = "compressed_bytes"
    }

    /// A codec's entry: its figures (verified), or why it is unavailable, or how it failed.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        switch self {
        case .measured(let f):
            try container.encode(f.pages, forKey: .pages)
            try container.encode(f.ratio, forKey: .ratio)
            try container.encode(f.compressMBps, forKey: .compressMBps)
            try container.encode(f.decompressMBps, forKey: .decompressMBps)
            try container.encode(f.inputBytes, forKey: .inputBytes)
            try container.encode(f.compressedBytes, forKey: .compressedBytes)
            try container.encode(true, forKey: .verified)
        case .unavailable(_, let reason):
            try container.encode(reason, forKey: .unavailable)
        case .failed(_, let reason):
            try container.encode(reason, forKey: .failed)
            try container.encode(false, forKey: .verified)
        }
    }
}

/// Buffers for measuring codecs over a corpus, allocated once per run and reused by every codec.
///
/// Memory: owns three allocations from `init` to `deinit`: the compressed area
/// (`pageCount * slotStride` bytes: one fixed slot per page, as the C reference harness
/// `cbench.c` lays its outputs out, so liblz4 measured here and there agrees), the per-page
/// offset/length table into it, and the decoded area (`pageCount * pageSize` bytes, one page after another, like the
/// corpus). All are written once at `init` so no pass pays for first-touch page faults.
/// Invariant: for every page `i` a compression pass has written, `offsets[i] == i * slotStride`
/// and `lengths[i] <= slotCapacity <= slotStride` (``checkInvariants()``).
final class CodecBenchBuffers {
    /// Pages the buffers are sized for.
    let pageCount: Int
    /// Uncompressed page size.
    let pageSize: Int
    /// The destination capacity given to each page's compression (the worst case of every codec).
    let slotCapacity: Int
    /// The distance between two pages' slots: the capacity, at least two pages (like cbench.c),
    /// rounded up to a cache line.
    let slotStride: Int
    let compressed: UnsafeMutableRawPointer
    let offsets: UnsafeMutablePointer<Int>
    let lengths: UnsafeMutablePointer<Int>
    let decoded: UnsafeMutableRawPointer

    /// Allocates and touches buffers for `pageCount` pages with a worst case of `slotCapacity`.
    init(pageCount: Int, pageSize: Int, slotCapacity: Int) {
        self.pageCount = pageCount
        self.pageSize = pageSize
        self.slotCapacity = slotCapacity
        slotStride = (max(slotCapacity, 2 * pageSize) + 63) & ~63
        compressed = .allocate(byteCount: pageCount * slotStride, alignment: 4096)
        compressed.initializeMemory(as: UInt8.self, repeating: 0, count: pageCount * slotStride)
        offsets = .allocate(capacity: pageCount)
        offsets.initialize(repeating: 0, count: pageCount)
        lengths = .allocate(capacity: pageCount)
        lengths.initialize(repeating: 0, count: pageCount)
        decoded = .allocate(byteCount: pageCount * pageSize, alignment: 4096)
        decoded.initializeMemory(as: UInt8.self, repeating: 0, count: pageCount * pageSize)
    }

    deinit {
        compressed.deallocate()
        offsets.deallocate()
        lengths.deallocate()
        decoded.deallocate()
    }

    /// Page `index`'s compressed bytes from the last compression pass.
    func compressedPage(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: compressed + offsets[index], count: lengths[index])
    }

    /// Checks the offset/length table (debug builds only).
    func checkInvariants() {
        #if DEBUG
        precondition(slotCapacity <= slotStride, "slots narrower than their capacity")
        for i in 0..<pageCount {
            precondition(offsets[i] == i * slotStride, "page \(i) is not in its slot")
            precondition(lengths[i] >= 0 && lengths[i] <= slotCapacity, "page \(i) overflows its slot")
        }
        #endif
    }
}

/// The benchmark itself, callable without argv.
public enum CodecBenchmark {
    /// Reads the corpus and measures every selected codec over all its pages.
    ///
    /// - Throws: ``CodecBenchError`` for an unusable corpus or bad options. A codec whose
    ///   library is absent is reported as unavailable, one that fails as failed: neither throws.
    public static func run(_ options: CodecBenchOptions, showProgress: Bool = false) throws(CodecBenchError) -> CodecBenchReport {
        guard options.passes >= 1 else { throw .invalidPasses(options.passes) }
        guard CodecBenchOptions.accelerations.contains(options.acceleration) else {
            throw .invalidAcceleration(options.acceleration)
        }
        for level in options.zstdLevels where !ZstdCodec.levels.contains(level) { throw .invalidLevel(level) }
        let corpus: CorpusFile
        do { corpus = try CorpusFile(path: options.corpusPath, pageSize: options.pageSize) } catch { throw .corpus(error) }
        if corpus.remainderBytes > 0 {
            StandardError.line(
                "warning: \(corpus.path) ends with \(corpus.remainderBytes) bytes that do not make a whole \(corpus.pageSize)-byte page; they are ignored")
        }

        let slots = makeCodecs(options)
        let codecs = slots.compactMap { if case .ready(let c) = $0 { c } else { nil } }
        let slotCapacity = codecs.map { $0.maxCompressedSize(for: corpus.pageSize) }.max() ?? corpus.pageSize
        let buffers = CodecBenchBuffers(pageCount: corpus.pageCount, pageSize: corpus.pageSize, slotCapacity: slotCapacity)
        let progress = showProgress ? Progress("bench codec", total: codecs.count * (2 * options.passes + 1)) : nil
        var done = 0
        var outcomes: [CodecOutcome] = []
        for slot in slots {
            switch slot {
            case .unavailable(let outcome): outcomes.append(outcome)
            case .ready(let codec):
                outcomes.append(measure(codec, corpus: corpus, buffers: buffers, passes: options.passes) {
                    done += 1
                    progress?.update(done, detail: codec.name)
                })
            }
        }
        progress?.finish()
        // The same-filled check, timed like the codecs (best pass), as zram runs it before compressing.
        var sameFilled = 0
        var bestScan = Double.infinity
        for _ in 0..<options.passes {
            let start = MonotonicClock.seconds()
            sameFilled = corpus.sameFilledPageCount()
            bestScan = min(bestScan, MonotonicClock.seconds() - start)
        }
        return CodecBenchReport(
            outcomes: outcomes, sameFilledPages: sameFilled, sameFilledSeconds: bestScan, pageSize: corpus.pageSize,
            pageCount: corpus.pageCount, corpus: corpus.path, remainderBytes: corpus.remainderBytes)
    }

    /// A codec stream ready to measure, or the outcome saying why it is unavailable.
    enum CodecSlot {
        case ready(any PageCodec)
        case unavailable(CodecOutcome)
    }

    /// The selected codecs in report order: `lz4`, `liblz4`, then `zstd-L` for each level.
    static func makeCodecs(_ options: CodecBenchOptions) -> [CodecSlot] {
        var result: [CodecSlot] = []
        func add(_ name: String, _ make: () throws(CodecError) -> any PageCodec) {
            do throws(CodecError) {
                result.append(.ready(try make()))
            } catch {
                let reason: String
                if case .libraryUnavailable(_, let why) = error { reason = why } else { reason = error.description }
                result.append(.unavailable(.unavailable(name: name, reason: reason)))
            }
        }
        if options.selection != .zstd {
            add("lz4") { () throws(CodecError) in try PageCodecFactory(.lz4(acceleration: options.acceleration)).makeStream() }
            add("liblz4") { () throws(CodecError) in try LibLZ4(acceleration: options.acceleration) }
        }
        if options.selection != .lz4 {
            for level in options.zstdLevels {
                add("zstd-\(level)") { () throws(CodecError) in try PageCodecFactory(.zstd(level: level)).makeStream() }
            }
        }
        return result
    }

    /// Measures one codec over every page of `corpus`: `passes` timed compression passes, an
    /// untimed check that every page decodes to the original, then `passes` timed decompression
    /// passes; reports the fastest pass of each kind. The same procedure for every codec: one
    /// call per page through the protocol, outputs in `buffers`, nothing allocated while timed.
    static func measure(
        _ codec: any PageCodec, corpus: CorpusFile, buffers: CodecBenchBuffers, passes: Int,
        afterPass: () -> Void = {}
    ) -> CodecOutcome {
        let name = codec.name
        let pageSize = corpus.pageSize, pageCount = corpus.pageCount
        precondition(buffers.pageCount >= pageCount && buffers.pageSize == pageSize, "buffers do not fit the corpus")
        let capacity = codec.maxCompressedSize(for: pageSize)
        guard capacity <= buffers.slotCapacity else {
            return .failed(name: name, reason: "worst case \(capacity) exceeds the \(buffers.slotCapacity)-byte slots")
        }
        let source = corpus.bytes.baseAddress!
        let compressed = buffers.compressed, offsets = buffers.offsets, lengths = buffers.lengths
        let stride = buffers.slotStride
        let decoded = buffers.decoded

        // Compression: best of `passes`.
        var bestCompress = Double.infinity
        var compressedBytes = 0
        for _ in 0..<passes {
            var total = 0
            var failedPage = -1
            let start = MonotonicClock.seconds()
            for i in 0..<pageCount {
                let page = UnsafeRawBufferPointer(start: source + i &* pageSize, count: pageSize)
                let offset = i &* stride
                let destination = UnsafeMutableRawBufferPointer(start: compressed + offset, count: capacity)
                guard let n = codec.compress(page, into: destination) else { failedPage = i; break }
                offsets[i] = offset
                lengths[i] = n
                total &+= n
            }
            let elapsed = MonotonicClock.seconds() - start
            guard failedPage < 0 else {
                return .failed(name: name, reason: "compressing page \(failedPage) failed with a worst-case (\(capacity)-byte) destination")
            }
            bestCompress = min(bestCompress, elapsed)
            compressedBytes = total
            afterPass()
        }
        buffers.checkInvariants()

        // Round trip, untimed: every page decodes, with an exact-size destination, to the original.
        var mismatches = 0
        var firstMismatch = ""
        for i in 0..<pageCount {
            let page = UnsafeRawBufferPointer(start: source + i * pageSize, count: pageSize)
            let output = UnsafeMutableRawBufferPointer(start: decoded + i * pageSize, count: pageSize)
            output.initializeMemory(as: UInt8.self, repeating: 0xA5)
            var problem: String?
            do {
                let n = try codec.decompress(buffers.compressedPage(i), into: output)
                if n != pageSize {
                    problem = "decoded \(n) bytes instead of \(pageSize)"
                } else if memcmp(page.baseAddress!, output.baseAddress!, pageSize) != 0 {
                    problem = "decoded bytes differ from the original"
                }
            } catch {
                problem = "decode error: \(error)"
            }
            if let problem {
                if mismatches == 0 { firstMismatch = "page \(i): \(problem)" }
                mismatches += 1
            }
        }
        afterPass()
        guard mismatches == 0 else {
            return .failed(name: name, reason: "\(mismatches) of \(pageCount) pages did not round-trip; first \(firstMismatch)")
        }

        // Decompression: best of `passes`, into the decoded area page after page.
        var bestDecompress = Double.infinity
        for _ in 0..<passes {
            var badPage = -1
            let start = MonotonicClock.seconds()
            for i in 0..<pageCount {
                let input = UnsafeRawBufferPointer(start: compressed + offsets[i], count: lengths[i])
                let output = UnsafeMutableRawBufferPointer(start: decoded + i &* pageSize, count: pageSize)
                let n = (try? codec.decompress(input, into: output)) ?? -1
                if n != pageSize { badPage = i; break }
            }
            let elapsed = MonotonicClock.seconds() - start
            guard badPage < 0 else {
                return .failed(name: name, reason: "page \(badPage) failed to decode in a timed pass after decoding correctly before")
            }
            guard memcmp(source, decoded, pageCount * pageSize) == 0 else {
                return .failed(name: name, reason: "a timed decompression pass produced different bytes from the original")
            }
            bestDecompress = min(bestDecompress, elapsed)
            afterPass()
        }
        return .measured(CodecFigures(
            name: name, pages: pageCount, inputBytes: pageCount * pageSize, compressedBytes: compressedBytes,
            compressSeconds: bestCompress, decompressSeconds: bestDecompress))
    }
}
