import KernelSwap
import PageCodecs
import PageStore
import Synchronization
import SystemSupport
import Workloads
import ZRAM

/// The settings of one device benchmark (the command's flags, without argv).
public struct DeviceBenchOptions: Sendable {
    /// The corpus file.
    public var corpusPath: String
    /// The codec of both devices.
    public var codec: PageCodecFactory = .lz4
    /// Threads for the in-process device.
    public var threads = 1
    /// Fresh runs per device.
    public var runs = 3
    /// Whether to measure the kernel's zram0 too.
    public var vsKernel = false
    /// The kernel device to use.
    public var kernelDevice = "zram0"
    /// Where sysfs and /dev are (tests may point elsewhere).
    public var root: SystemRoot = .live

    /// The settings, each as its property says (the defaults are the command's).
    public init(
        corpusPath: String, codec: PageCodecFactory = .lz4, threads: Int = 1, runs: Int = 3, vsKernel: Bool = false,
        kernelDevice: String = "zram0", root: SystemRoot = .live
    ) {
        self.corpusPath = corpusPath
        self.codec = codec
        self.threads = threads
        self.runs = runs
        self.vsKernel = vsKernel
        self.kernelDevice = kernelDevice
        self.root = root
    }
}

/// What went wrong in a device benchmark, with what to do.
public enum DeviceBenchError: Error, Equatable, CustomStringConvertible {
    /// The corpus could not be used.
    case corpus(CorpusError)
    /// The in-process device could not be made.
    case device(ZramError)
    /// A page could not be written or read during a timed pass.
    case page(PageStoreError)
    /// Invalid settings.
    case invalidOptions(String)

    /// What went wrong and what to do.
    public var description: String {
        switch self {
        case .corpus(let error): error.description
        case .device(let error): "cannot make the zram device: \(error)"
        case .page(let error): "the zram device failed during the benchmark: \(error)"
        case .invalidOptions(let message): message
        }
    }
}

/// One device's figures over a corpus; coded as `mm_stat` (by the kernel's field names),
/// `slot_table_bytes` (ours: the table this process allocated) or, for the kernel, whose table
/// cannot be read, `slot_table_bytes_computed` (16 B per slot of disksize: a model, not a
/// measurement), `disksize`, `write_mibps`, `read_mibps`, `verified`, `mismatches`, `algorithm`.
public struct DeviceFigures: Equatable, Sendable, Encodable {
    /// mm_stat after the last run.
    public var mmStat: KernelMMStat
    /// Slot table memory (measured for ours; 16 B per slot of disksize, computed, for the kernel).
    public var slotTableBytes: Int
    /// Whether ``slotTableBytes`` is computed from a model (the kernel's) rather than measured.
    public var slotTableComputed = false
    /// The device's disksize.
    public var disksize: Int
    /// Best write rate, MiB (2^20 bytes) per second.
    public var writeMiBps: Double
    /// Best read rate, MiB per second.
    public var readMiBps: Double
    /// Pages that did not read back equal to the corpus, summed over all runs.
    public var mismatches: Int
    /// The algorithm as the device names it.
    public var algorithm: String

    /// Whether every page of every run read back equal.
    public var verified: Bool { mismatches == 0 }

    private enum CodingKeys: String, CodingKey {
        case disksize, verified, mismatches, algorithm
        case mmStat = "mm_stat", slotTableBytes = "slot_table_bytes", slotTableBytesComputed = "slot_table_bytes_computed"
        case writeMiBps = "write_mibps", readMiBps = "read_mibps"
    }

    /// The figures' members.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(mmStat, forKey: .mmStat)
        try container.encode(slotTableBytes, forKey: slotTableComputed ? .slotTableBytesComputed : .slotTableBytes)
        try container.encode(disksize, forKey: .disksize)
        try container.encode(writeMiBps, forKey: .writeMiBps)
        try container.encode(readMiBps, forKey: .readMiBps)
        try container.encode(verified, forKey: .verified)
        try container.encode(mismatches, forKey: .mismatches)
        try container.encode(algorithm, forKey: .algorithm)
    }
}

/// The kernel side of the comparison: figures, or why there are none.
public enum KernelDeviceOutcome: Equatable, Sendable {
    /// Measured.
    case measured(DeviceFigures)
    /// Not measured, and why (`kernel: unavailable (reason)`).
    case unavailable(String)
}

/// Everything `uswap bench device` reports.
public struct DeviceBenchReport: Sendable {
    /// The corpus path.
    public var corpusPath: String
    /// Pages of the corpus.
    public var pages: Int
    /// Page size in bytes.
    public var pageSize: Int
    /// Bytes past the last whole page, ignored.
    public var remainderBytes: Int
    /// The codec.
    public var codec: String
    /// Threads used for the in-process device.
    public var threads: Int
    /// Runs per device.
    public var runs: Int
    /// The in-process device's figures.
    public var ours: DeviceFigures
    /// The process's peak resident set size in bytes.
    public var maxRSSBytes: Int
    /// The kernel's figures, or why not.
    public var kernel: KernelDeviceOutcome
    /// Failures that make the command exit non-zero (mismatches, a failed restore).
    public var problems: [String]

    /// Our figure over the kernel's, when both exist and the kernel's is not zero.
    public func ratio(_ ours: Double, _ kernel: Double) -> Double? { kernel != 0 ? ours / kernel : nil }

    /// (name, ours, kernel) for the figures whose ratio means something.
    private func ratioRows(_ k: DeviceFigures) -> [(String, Double, Double)] {
        [
            ("compr_data_size", Double(ours.mmStat.comprDataSize), Double(k.mmStat.comprDataSize)),
            ("mem_used_total", Double(ours.mmStat.memUsedTotal), Double(k.mmStat.memUsedTotal)),
            ("write_mibps", ours.writeMiBps, k.writeMiBps),
            ("read_mibps", ours.readMiBps, k.readMiBps),
        ]
    }

    /// The human table: our figures beside the kernel's, with ratios.
    public var table: String {
        let mib = Double(pages * pageSize) / Double(1 << 20)
        var lines = [
            "bench device: \(corpusPath): \(pages) pages of \(pageSize) bytes (\(formatted(mib, digits: 1)) MiB), codec \(codec), "
                + "\(threads) thread\(threads == 1 ? "" : "s"), best of \(runs)"
        ]
        if remainderBytes > 0 { lines.append("(the last \(remainderBytes) bytes, less than a page, were ignored)") }
        let kernelFigures: DeviceFigures?
        if case .measured(let k) = kernel { kernelFigures = k } else { kernelFigures = nil }
        var table = TextTable(headers: kernelFigures == nil ? ["", "uswap"] : ["", "uswap", "kernel", "uswap/kernel"])
        func add(_ name: String, _ o: Double, _ k: Double?, digits: Int, ratio showRatio: Bool = true) {
            var row = [name, formatted(o, digits: digits)]
            if let k {
                row.append(formatted(k, digits: digits))
                row.append(showRatio ? (ratio(o, k).map { formatted($0, digits: 3) } ?? "-") : "-")
            }
            table.append(row)
        }
        let kernelValues = kernelFigures?.mmStat.values
        for (index, field) in ours.mmStat.namedFields.enumerated() {
            add(field.name, Double(field.value), kernelValues.map { Double($0[index]) }, digits: 0)
        }
        add(kernelFigures?.slotTableComputed == true ? "slot_table_bytes (kernel: computed)" : "slot_table_bytes", Double(ours.slotTableBytes), kernelFigures.map { Double($0.slotTableBytes) }, digits: 0, ratio: false)
        add("write MiB/s", ours.writeMiBps, kernelFigures?.writeMiBps, digits: 1)
        add("read MiB/s", ours.readMiBps, kernelFigures?.readMiBps, digits: 1)
        table.append(["peak RSS bytes", String(maxRSSBytes)] + (kernelFigures == nil ? [] : ["-", "-"]))
        table.append(
            ["verified", verifiedText(ours)] + (kernelFigures.map { [verifiedText($0), ""] } ?? []))
        lines.append(table.rendered)
        if let kernelFigures {
            lines.append(
                "kernel: /dev/zram0 \(kernelFigures.algorithm), disksize \(kernelFigures.disksize) (slot table computed: 16 B per slot), restored afterwards")
        } else if case .unavailable(let reason) = kernel {
            lines.append("kernel: unavailable (\(reason))")
        }
        return lines.joined(separator: "\n")
    }

    private func verifiedText(_ f: DeviceFigures) -> String {
        f.verified ? "yes" : "NO (\(f.mismatches) mismatched pages)"
    }
}

extension DeviceBenchReport: Encodable {
    private enum CodingKeys: String, CodingKey {
        case corpus, pages, codec, threads, runs, kernel, ratios
        case maxRSSBytes = "max_rss_bytes", pageSize = "page_size", remainderBytes = "remainder_bytes"
    }

    /// The `--json` object: our figures (``DeviceFigures``' members at the top level), the
    /// run's settings, `kernel` (the kernel's figures, or `unavailable` and why) and, when the
    /// kernel was measured, `ratios` (ours over the kernel's, where the kernel's is not zero).
    public func encode(to encoder: any Encoder) throws {
        try ours.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(maxRSSBytes, forKey: .maxRSSBytes)
        try container.encode(corpusPath, forKey: .corpus)
        try container.encode(pages, forKey: .pages)
        try container.encode(pageSize, forKey: .pageSize)
        try container.encode(remainderBytes, forKey: .remainderBytes)
        try container.encode(codec, forKey: .codec)
        try container.encode(threads, forKey: .threads)
        try container.encode(runs, forKey: .runs)
        switch kernel {
        case .measured(let k):
            try container.encode(k, forKey: .kernel)
            var ratios: [String: Double] = [:]
            for (name, o, kv) in ratioRows(k) { ratios[name] = ratio(o, kv) }
            try container.encode(ratios, forKey: .ratios)
        case .unavailable(let reason):
            try container.encode(Unavailable(reason), forKey: .kernel)
        }
    }
}

/// The procedures of `uswap bench device`, as library calls.
public enum DeviceBenchmark {
    /// Reads the corpus and measures our device (and the kernel's when asked).
    public static func run(_ options: DeviceBenchOptions, showProgress: Bool = false) throws(DeviceBenchError) -> DeviceBenchReport {
        let corpus: CorpusFile
        do { corpus = try CorpusFile(path: options.corpusPath) } catch { throw .corpus(error) }
        let progress = showProgress
            ? Progress("bench device", total: options.runs * (options.vsKernel ? 2 : 1)) : nil
        defer { progress?.finish() }
        let ours = try measureZram(corpus: corpus, options: options) { progress?.update($0) }
        var problems: [String] = []
        if !ours.verified { problems.append("\(ours.mismatches) pages read back from our zram device differ from the corpus") }
        var kernel = KernelDeviceOutcome.unavailable("not measured: add --vs-kernel")
        if options.vsKernel {
            kernel = measureKernel(corpus: corpus, options: options) { progress?.update(options.runs + $0) }
            if case .measured(let k) = kernel, !k.verified {
                problems.append("\(k.mismatches) pages read back from the kernel's \(options.kernelDevice) differ from the corpus")
            }
            if case .unavailable(let reason) = kernel, reason.hasPrefix("could not restore") { problems.append(reason) }
        }
        return DeviceBenchReport(
            corpusPath: corpus.path, pages: corpus.pageCount, pageSize: corpus.pageSize, remainderBytes: corpus.remainderBytes,
            codec: options.codec.description, threads: options.threads, runs: options.runs, ours: ours,
            maxRSSBytes: ResourceUsage.now().maxResidentBytes, kernel: kernel, problems: problems)
    }

    /// Best-of-`runs` figures of our ZramDevice over `corpus`; `progress` gets the runs done.
    static func measureZram(
        corpus: CorpusFile, options: DeviceBenchOptions, progress: (Int) -> Void = { _ in }
    ) throws(DeviceBenchError) -> DeviceFigures {
        guard options.threads >= 1, options.runs >= 1 else {
            throw .invalidOptions("threads (\(options.threads)) and runs (\(options.runs)) must be at least 1")
        }
        let pageSize = corpus.pageSize
        let pages = corpus.pageCount
        let threads = min(options.threads, pages)
        let byteCount = pages * pageSize
        // One page buffer per thread for the timed reads, one for verification; made once.
        let buffers = try PageBuffers(count: threads + 1, pageSize: pageSize)
        let pagesBase = corpus.bytes.baseAddress!
        var best = (write: Double.infinity, read: Double.infinity)
        var mismatches = 0
        var mmStat = KernelMMStat()
        var slotTableBytes = 0
        for run in 0..<options.runs {
            let device: ZramDevice
            do {
                device = try ZramDevice(ZramConfiguration(disksize: byteCount, pageSize: pageSize, codec: options.codec))
            } catch { throw .device(error) }
            let failure = FirstFailure()
            let corpusAddress = UInt(bitPattern: pagesBase)
            let writeSeconds = timedOnThreads(threads) { thread in
                let base = UnsafeRawPointer(bitPattern: corpusAddress)!
                for slot in pageRange(thread, of: threads, pages: pages) {
                    do throws(PageStoreError) {
                        try device.writePage(UnsafeRawBufferPointer(start: base + slot * pageSize, count: pageSize), at: slot)
                    } catch {
                        failure.record(error)
                        return
                    }
                }
            }
            if let error = failure.first { throw .page(error) }
            let readSeconds = timedOnThreads(threads) { thread in
                let buffer = buffers.page(thread)
                for slot in pageRange(thread, of: threads, pages: pages) {
                    do throws(PageStoreError) { try device.readPage(at: slot, into: buffer) } catch {
                        failure.record(error)
                        return
                    }
                }
            }
            if let error = failure.first { throw .page(error) }
            best.write = min(best.write, writeSeconds)
            best.read = min(best.read, readSeconds)
            // Verification, untimed: every page read again and compared.
            let check = buffers.page(threads)
            for slot in 0..<pages {
                do {
                    try device.readPage(at: slot, into: check)
                    if memcmp(check.baseAddress!, pagesBase + slot * pageSize, pageSize) != 0 { mismatches += 1 }
                } catch {
                    mismatches += 1
                }
            }
            let stat = device.mmStat
            mmStat = KernelMMStat(values: [
                stat.origDataSize, stat.comprDataSize, stat.memUsedTotal, stat.memLimit, stat.memUsedMax,
                stat.samePages, stat.pagesCompacted, stat.hugePages, stat.hugePagesSince,
            ])
            slotTableBytes = device.slotTableBytes
            progress(run + 1)
        }
        let mib = Double(byteCount) / Double(1 << 20)
        return DeviceFigures(
            mmStat: mmStat, slotTableBytes: slotTableBytes, disksize: byteCount, writeMiBps: mib / best.write,
            readMiBps: mib / best.read, mismatches: mismatches, algorithm: options.codec.description)
    }

    /// The kernel's name and algorithm_params for `codec`: `lz4`, or `zstd` with `level=N`.
    static func kernelAlgorithm(for codec: PageCodecFactory) -> (name: String, parameters: String?) {
        switch codec.kind {
        case .lz4(let acceleration): ("lz4", acceleration == 1 ? nil : "level=\(acceleration)")
        case .zstd(let level): ("zstd", "level=\(level)")
        }
    }

    /// Best-of-`runs` figures of the kernel's zram device over `corpus`, done as kzram.sh does
    /// (see ``BenchDevice`` and KernelSwap's ``KernelZramBenchmark``), or why they cannot be
    /// had. The device is restored before this returns, and on SIGINT/SIGTERM if
    /// ``SignalCleanup/installHandlers()`` was called.
    static func measureKernel(
        corpus: CorpusFile, options: DeviceBenchOptions, registry: CleanupRegistry = SignalCleanup.shared,
        progress: (Int) -> Void = { _ in }
    ) -> KernelDeviceOutcome {
        let algorithm = kernelAlgorithm(for: options.codec)
        let outcome = KernelZramBenchmark.run(
            data: corpus.bytes, pageSize: corpus.pageSize, algorithm: algorithm.name, parameters: algorithm.parameters,
            runs: options.runs, device: options.kernelDevice, root: options.root, registry: registry, progress: progress)
        switch outcome {
        case .unavailable(let reason): return .unavailable(reason)
        case .measured(let k):
            let mib = Double(corpus.bytes.count) / Double(1 << 20)
            return .measured(DeviceFigures(
                mmStat: k.mmStat, slotTableBytes: k.slotTableBytes, slotTableComputed: true, disksize: k.disksize, writeMiBps: mib / k.writeSeconds,
                readMiBps: mib / k.readSeconds, mismatches: k.mismatches, algorithm: k.algorithm))
        }
    }
}

/// Thread `index`'s contiguous share of `pages` pages split `count` ways.
func pageRange(_ index: Int, of count: Int, pages: Int) -> Range<Int> {
    let base = pages / count
    let extra = pages % count
    let start = index * base + min(index, extra)
    return start..<(start + base + (index < extra ? 1 : 0))
}

/// Page-sized scratch buffers, one per thread, in one allocation.
///
/// Memory: one anonymous mapping of `count * pageSize` bytes (rounded up to whole pages) made in
/// `init`, owned by this object and unmapped in `deinit`. Invariant: ``page(_:)`` returns
/// disjoint, page-aligned buffers for `0..<count`, so threads using different indices never
/// share bytes.
final class PageBuffers: @unchecked Sendable {
    private let storage: AnonymousMapping
    /// The number of buffers.
    let count: Int
    /// Bytes per buffer.
    let pageSize: Int

    /// `count` buffers of `pageSize` bytes.
    init(count: Int, pageSize: Int) throws(DeviceBenchError) {
        do { storage = try AnonymousMapping(size: count * pageSize, reserveOnly: false) } catch {
            throw .invalidOptions("cannot map \(count) page buffers of \(pageSize) bytes: \(error)")
        }
        self.count = count
        self.pageSize = pageSize
    }

    /// Buffer `index`.
    func page(_ index: Int) -> UnsafeMutableRawBufferPointer {
        precondition(index >= 0 && index < count, "page buffer \(index) outside 0..<\(count)")
        return UnsafeMutableRawBufferPointer(start: storage.base + index * pageSize, count: pageSize)
    }

    /// Checks the invariants (debug builds only).
    func checkInvariants() {
        #if DEBUG
        precondition(storage.size >= count * pageSize && Int(bitPattern: storage.base) % 4096 == 0, "PageBuffers size drifted")
        #endif
    }
}

/// Runs `body(i)` for `i` in `0..<count`, each on its own thread (the calling thread when
/// `count` is 1), and returns the seconds from the moment every thread is ready and released
/// until the last one finishes: thread creation is not timed.
func timedOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) -> Double {
    if count <= 1 {
        let start = MonotonicClock.seconds()
        body(0)
        return MonotonicClock.seconds() - start
    }
    let gate = StartGate()
    var threads: [NativeThread] = []
    threads.reserveCapacity(count)
    for index in 0..<count {
        do {
            threads.append(try NativeThread.start {
                gate.ready.add(1, ordering: .releasing)
                var wait = SpinWait(yieldAfter: 1)
                while !gate.open.load(ordering: .acquiring) { wait.spin() }
                body(index)
            })
        } catch {
            fatalError("cannot create benchmark thread \(index): \(error)")
        }
    }
    var wait = SpinWait(yieldAfter: 1)
    while gate.ready.load(ordering: .acquiring) < count { wait.spin() }
    let start = MonotonicClock.seconds()
    gate.open.store(true, ordering: .releasing)
    for thread in threads { thread.join() }
    return MonotonicClock.seconds() - start
}

/// The first page error any benchmark thread hit.
private final class FirstFailure: Sendable {
    private let error = Mutex<PageStoreError?>(nil)
    /// Keeps `error` unless one was recorded before.
    func record(_ error: PageStoreError) { self.error.withLock { $0 = $0 ?? error } }
    /// The first error recorded, if any.
    var first: PageStoreError? { error.withLock { $0 } }
}

/// The start gate of ``timedOnThreads(_:_:)``: threads count themselves ready, then wait for
/// the gate to open.
private final class StartGate: Sendable {
    let ready = Atomic<Int>(0)
    let open = Atomic<Bool>(false)
}
