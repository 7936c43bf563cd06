import ArgumentParser
import KernelSwap
import PageCodecs
import PageStore
import Synchronization
import SystemSupport
import Workloads
import ZRAM

/// `uswap bench device`: every page of a corpus written to a fresh in-process zram device and
/// read back, optionally side by side with the kernel's /dev/zram0 doing the same.
struct BenchDevice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device",
        abstract: "Write every page of a corpus to a fresh zram device and read it back; optionally beside the kernel's zram0.",
        discussion: """
            Each run makes a fresh device of disksize = the corpus's whole pages, writes every page \
            once (timed), reads every page back (timed), then compares every page with the corpus \
            (untimed; a mismatch exits non-zero). Write and read MiB/s (MiB = 2^20 bytes) are the \
            best of --runs runs; mm_stat is the last run's. With --threads N the pages are split \
            into N contiguous ranges handled concurrently.

            --vs-kernel does the same through /dev/zram0 (root; zram0 present and unused: \
            disksize 0, not swap, not mounted) as kzram.sh does: each run resets zram0, sets \
            comp_algorithm, sets disksize to 1 GiB (or the corpus rounded up to 1 MiB if larger), \
            writes the corpus with 1 MiB O_DIRECT writes and an fsync, reads it back likewise, and \
            compares it. zram0 is reset and its comp_algorithm written back afterwards, also on \
            SIGINT/SIGTERM. The kernel's slot_table_bytes is computed (16 bytes per slot of its \
            disksize), not measured. A corpus may be any file of pages, such as an \
            `uswap analyze --dump` file; a trailing partial page is ignored.
            """)

    /// The corpus file.
    @Option(help: "A file of memory pages (e.g. heap-mix-64m.bin or an `uswap analyze --dump` file).")
    var corpus: String

    /// The codec, by the kernel's name.
    @Option(help: "The compression algorithm: lz4, zstd or zstd-N.")
    var codec = "lz4"

    /// Concurrent writer/reader threads.
    @Option(help: "Threads writing and reading contiguous page ranges concurrently.")
    var threads = 1

    /// Fresh runs per device; the best timing is reported.
    @Option(help: "Fresh runs per device; the best write and read timings are reported.")
    var runs = 3

    /// One JSON object on stdout.
    @Flag(help: "Print exactly one JSON object on stdout.")
    var json = false

    /// Also measure the kernel's zram0.
    @Flag(help: "Also measure the kernel's /dev/zram0 with the same algorithm (root, zram0 unused); it is restored afterwards.")
    var vsKernel = false

    func validate() throws {
        guard PageCodecFactory(name: codec) != nil else {
            throw ValidationError("unknown codec '\(codec)': use lz4, zstd or zstd-N (N from -7 to 22)")
        }
        guard (1...256).contains(threads) else { throw ValidationError("--threads \(threads): use 1 to 256") }
        guard (1...100).contains(runs) else { throw ValidationError("--runs \(runs): use 1 to 100") }
    }

    func run() throws {
        let options = DeviceBenchOptions(
            corpusPath: corpus, codec: PageCodecFactory(name: codec) ?? .lz4, threads: threads, runs: runs,
            vsKernel: vsKernel)
        if vsKernel { SignalCleanup.installHandlers() }
        let report: DeviceBenchReport
        do {
            report = try DeviceBenchmark.run(options, showProgress: true)
        } catch {
            StandardError.line("error: \(error)")
            throw ExitCode.failure
        }
        print(json ? try JSONOutput.render(report) : report.table)
        for problem in report.problems { StandardError.line("error: \(problem)") }
        if !report.problems.isEmpty { throw ExitCode.failure }
    }
}

/// The settings of one device benchmark (the command's flags, without argv).
struct DeviceBenchOptions: Sendable {
    /// The corpus file.
    var corpusPath: String
    /// The codec of both devices.
    var codec: PageCodecFactory = .lz4
    /// Threads for the in-process device.
    var threads = 1
    /// Fresh runs per device.
    var runs = 3
    /// Whether to measure the kernel's zram0 too.
    var vsKernel = false
    /// The kernel device to use.
    var kernelDevice = "zram0"
    /// Where sysfs and /dev are (tests may point elsewhere).
    var root: SystemRoot = .live
}

/// What went wrong in a device benchmark, with what to do.
enum DeviceBenchError: Error, Equatable, CustomStringConvertible {
    /// The corpus could not be used.
    case corpus(CorpusError)
    /// The in-process device could not be made.
    case device(ZramError)
    /// A page could not be written or read during a timed pass.
    case page(PageStoreError)
    /// Invalid settings.
    case invalidOptions(String)

    var description: String {
        switch self {
        case .corpus(let error): error.description
        case .device(let error): "cannot make the zram device: \(error)"
        case .page(let error): "the zram device failed during the benchmark: \(error)"
        case .invalidOptions(let message): message
        }
    }
}

/// One device's figures over a corpus; coded as `mm_stat` (by the kernel's field names),
/// `slot_table_bytes`, `disksize`, `write_mibps`, `read_mibps`, `verified`, `mismatches`,
/// `algorithm`.
struct DeviceFigures: Equatable, Sendable, Encodable {
    /// mm_stat after the last run.
    var mmStat: KernelMMStat
    /// Slot table memory (measured for ours; 16 B per slot of disksize, computed, for the kernel).
    var slotTableBytes: Int
    /// The device's disksize.
    var disksize: Int
    /// Best write rate, MiB (2^20 bytes) per second.
    var writeMiBps: Double
    /// Best read rate, MiB per second.
    var readMiBps: Double
    /// Pages that did not read back equal to the corpus, summed over all runs.
    var mismatches: Int
    /// The algorithm as the device names it.
    var algorithm: String

    /// Whether every page of every run read back equal.
    var verified: Bool { mismatches == 0 }

    private enum CodingKeys: String, CodingKey {
        case disksize, verified, mismatches, algorithm
        case mmStat = "mm_stat", slotTableBytes = "slot_table_bytes", writeMiBps = "write_mibps", readMiBps = "read_mibps"
    }

    /// The figures' members.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(mmStat, forKey: .mmStat)
        try container.encode(slotTableBytes, forKey: .slotTableBytes)
        try container.encode(disksize, forKey: .disksize)
        try container.encode(writeMiBps, forKey: .writeMiBps)
        try container.encode(readMiBps, forKey: .readMiBps)
        try container.encode(verified, forKey: .verified)
        try container.encode(mismatches, forKey: .mismatches)
        try container.encode(algorithm, forKey: .algorithm)
    }
}

/// The kernel side of the comparison: figures, or why there are none.
enum KernelDeviceOutcome: Equatable, Sendable {
    /// Measured.
    case measured(DeviceFigures)
    /// Not measured, and why (`kernel: unavailable (reason)`).
    case unavailable(String)
}

/// Everything `uswap bench device` reports.
struct DeviceBenchReport: Sendable {
    /// The corpus path.
    var corpusPath: String
    /// Pages of the corpus.
    var pages: Int
    /// Page size in bytes.
    var pageSize: Int
    /// Bytes past the last whole page, ignored.
    var remainderBytes: Int
    /// The codec.
    var codec: String
    /// Threads used for the in-process device.
    var threads: Int
    /// Runs per device.
    var runs: Int
    /// The in-process device's figures.
    var ours: DeviceFigures
    /// The process's peak resident set size in bytes.
    var maxRSSBytes: Int
    /// The kernel's figures, or why not.
    var kernel: KernelDeviceOutcome
    /// Failures that make the command exit non-zero (mismatches, a failed restore).
    var problems: [String]

    /// Our figure over the kernel's, when both exist and the kernel's is not zero.
    func ratio(_ ours: Double, _ kernel: Double) -> Double? { kernel != 0 ? ours / kernel : nil }

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
    var table: String {
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
        add("slot_table_bytes", Double(ours.slotTableBytes), kernelFigures.map { Double($0.slotTableBytes) }, digits: 0, ratio: false)
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
    func encode(to encoder: any Encoder) throws {
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
enum DeviceBenchmark {
    /// Reads the corpus and measures our device (and the kernel's when asked).
    static func run(_ options: DeviceBenchOptions, showProgress: Bool = false) throws(DeviceBenchError) -> DeviceBenchReport {
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
                mmStat: k.mmStat, slotTableBytes: k.slotTableBytes, disksize: k.disksize, writeMiBps: mib / k.writeSeconds,
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
