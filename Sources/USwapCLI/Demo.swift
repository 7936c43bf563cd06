import ArgumentParser
import Benchmarks
import KernelSwap
import PageStore
import Swap
import SystemSupport
import Workloads
import ZRAM

/// `uswap demo`: a program-like table living in a SwapRegion several times larger than its
/// resident limit, with lookups and updates, every record verified, and the kernel's zram on the
/// same work when it can be measured.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "A table several times larger than its RAM, compressed in user space, verified record by record.",
        discussion: """
            Builds a table of generated heap-like records (ids, strings, numbers, pointer-like \
            words, some freed all-zero pages) in a SwapRegion backed by a ZramDevice, makes \
            lookups and updates with a skewed (Zipf) popularity, then checks every record. \
            Needs no corpus and no root. As root with an unused zram0 and the cgroup v1 memory \
            controller it also runs the same work under the kernel's zram swap and restores the \
            machine afterwards. Without userfaultfd it shows the ZramDevice directly.
            """)

    @Option(help: "Table size in MiB.")
    var size: Int = 512

    @Option(help: "Resident limit in MiB.")
    var resident: Int = 96

    @Option(help: "Lookups and updates in total.")
    var operations: Int = 250_000

    @Option(name: .customLong("update-pct"), help: "Percentage of operations that update a record.")
    var updatePercent: Int = 20

    @Flag(name: .customLong("skip-kernel"), help: "Do not run the kernel's side even where it could be measured.")
    var skipKernel = false

    @Flag(help: "Print exactly one JSON object on stdout.")
    var json = false

    @Option(name: .customLong("kernel-child-cgroup"), help: .hidden)
    var kernelChildCgroup: String?

    @Flag(name: .customLong("device-only"), help: .hidden)
    var deviceOnly = false

    func validate() throws {
        guard size > 0, size <= 1 << 20 else { throw ValidationError("--size must be 1 MiB or more") }
        guard resident > 0, resident <= size else { throw ValidationError("--resident must be 1...--size MiB") }
        guard operations >= 0 else { throw ValidationError("--operations must be >= 0") }
        guard (0...100).contains(updatePercent) else { throw ValidationError("--update-pct must be 0...100") }
    }

    func run() throws {
        let demo = DemoRun(sizeMiB: size, residentMiB: resident, operations: operations, updatePercent: updatePercent)
        if let kernelChildCgroup {
            let report = try demo.runKernelChild(cgroupPath: kernelChildCgroup)
            print(report.jsonLine)
            throw ExitCode(report.verified ? 0 : 1)
        }
        let start = MonotonicClock.seconds()
        var result = try demo.run(forceDevice: deviceOnly, progress: !json)
        if !skipKernel {
            result.kernel = demo.runKernel(progress: !json)
        } else {
            result.kernel = .notRequested
        }
        result.totalSeconds = MonotonicClock.seconds() - start
        print(json ? try JSONOutput.render(result) : result.report)
        if !result.clean { throw ExitCode(1) }
    }
}

// MARK: - Running it

/// One demo run: our side (a SwapRegion, or the ZramDevice alone without userfaultfd) and the
/// kernel's.
struct DemoRun: Sendable {
    var sizeMiB: Int
    var residentMiB: Int
    var operations: Int
    var updatePercent: Int

    /// The workload.
    var workload: DemoWorkload {
        DemoWorkload(table: DemoTable(pageCount: sizeMiB << 8), operations: operations, updatePercent: updatePercent)
    }

    /// Runs our side: in a SwapRegion when userfaultfd works (unless `forceDevice`), else on the
    /// ZramDevice directly.
    func run(forceDevice: Bool = false, progress: Bool) throws -> DemoResult {
        if !forceDevice, case .success = SwapRegion.probe() {
            return try runRegion(progress: progress)
        }
        let reason: String
        if forceDevice {
            reason = "--device-only"
        } else if case .failure(let error) = SwapRegion.probe() {
            reason = error.description
        } else {
            reason = "unknown"
        }
        return try runDevice(userfaultfdProblem: reason, progress: progress)
    }

    private func runRegion(progress: Bool) throws -> DemoResult {
        let work = workload
        let bytes = sizeMiB << 20
        let zram = try ZramDevice(ZramConfiguration(disksize: bytes))
        let region = try SwapRegion(
            SwapRegionConfiguration(size: bytes, residentLimit: residentMiB << 20), backend: zram)
        defer { region.close() }
        var result = DemoResult(run: self, mode: .region)
        result.buildSeconds = Progress.timed("building the table", total: work.table.pageCount, enabled: progress) { update in
            work.build(region.baseAddress, progress: update)
        }.seconds
        if progress { StandardError.line("operating: \(operations) lookups and updates...") }
        let ops = work.operate(region.baseAddress, beforeTiming: { region.resetStatistics() })
        let statistics = region.statistics
        result.record(pool: zram.mmStat)
        result.operations = ops
        result.swapIns = statistics.swapIns
        result.p50 = statistics.faultLatency.p50
        result.p99 = statistics.faultLatency.p99
        result.residentBytes = statistics.residentPages * region.pageSize
        result.residentMaxBytes = statistics.residentMaxPages * region.pageSize
        result.record(verification: Progress.timed("verifying every record", total: work.table.pageCount, enabled: progress) { update in
            work.verify(memory: region.baseAddress, progress: update)
        })
        return result
    }

    private func runDevice(userfaultfdProblem: String, progress: Bool) throws -> DemoResult {
        let work = workload
        let zram = try ZramDevice(ZramConfiguration(disksize: sizeMiB << 20))
        var result = DemoResult(run: self, mode: .device(userfaultfdProblem))
        let page = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { page.deallocate() }
        result.buildSeconds = try Progress.timed("storing the table's pages", total: work.table.pageCount, enabled: progress) { update in
            for p in 0..<work.table.pageCount {
                work.table.writePage(p, into: page.baseAddress!)
                try zram.writePage(UnsafeRawBufferPointer(page), at: p)
                if p & 0x3FFF == 0 { update(p) }
            }
        }.seconds
        result.record(pool: zram.mmStat)
        // No operations without a region: load every page back and verify it.
        let noUpdates = DemoWorkload(table: work.table, operations: 0, updatePercent: 0)
        result.record(verification: Progress.timed("loading and verifying every page", total: work.table.pageCount, enabled: progress) { update in
            noUpdates.verify({ p, buffer in
                (try? zram.readPage(at: p, into: UnsafeMutableRawBufferPointer(start: buffer, count: 4096))) != nil
            }, progress: update)
        })
        return result
    }

    /// The kernel's side, as `uswap bench swap --vs-kernel` runs it.
    func runKernel(progress: Bool, executable: String? = nil) -> KernelOutcome {
        KernelSwapSession.measure(
            sizeBytes: sizeMiB << 20, limitBytes: residentMiB << 20, executable: executable,
            arguments: { cgroupPath in
                [
                    "demo", "--size", String(sizeMiB), "--resident", String(residentMiB), "--operations", String(operations),
                    "--update-pct", String(updatePercent), "--kernel-child-cgroup", cgroupPath,
                ]
            },
            started: { _ in
                if progress { StandardError.line("kernel: the same work in a \(residentMiB) MiB memory cgroup with zram0 (lz4) as swap...") }
            })
    }

    /// The kernel child: join the cgroup, then the same work on plain anonymous memory.
    func runKernelChild(cgroupPath: String) throws -> KernelChildReport {
        let cgroup = try MemoryCgroup(path: cgroupPath)
        try cgroup.join(pid: getpid())
        let work = workload
        let region = try AnonymousMapping(size: sizeMiB << 20, reserveOnly: false)
        let b0 = MonotonicClock.seconds()
        work.build(region.base) { _ in }
        let buildSeconds = MonotonicClock.seconds() - b0
        let window = CgroupPeakWindow.start(cgroup)  // the timed phase's memory, as ours
        let ops = work.operate(region.base)
        let peak = window.peak()
        let mmStat = Result { () throws(KernelZramError) in try KernelZramDevice(name: "zram0", root: .live).mmStat() }
        let check = work.verify(memory: region.base, progress: { _ in })
        let n = Double(max(operations, 1))
        var report = KernelChildReport(
            usPerTouch: ops.seconds * 1e6 / n, cpuUsPerTouch: ops.cpuSeconds * 1e6 / n, majorFaults: ops.majorFaults,
            touchSeconds: ops.seconds, fillSeconds: buildSeconds, mmStat: nil, mmStatLine: "",
            verified: check.mismatches == 0, mismatches: check.mismatches, extra: ["bad_records": Double(ops.badRecords)])
        report.record(zramMMStat: mmStat)
        report.record(cgroupPeak: peak)
        if case .success(let mm) = mmStat { report.extra["zram_same_pages"] = Double(mm.samePages) }
        return report
    }
}

/// What the demo measured, and its report.
struct DemoResult: Sendable {
    /// Where the table lived.
    enum Mode: Sendable, Equatable {
        /// In a SwapRegion.
        case region
        /// Pages stored in the ZramDevice directly, because userfaultfd is unusable (why).
        case device(String)
    }

    var run: DemoRun
    var mode: Mode
    var buildSeconds = 0.0
    var verifySeconds = 0.0
    var totalSeconds = 0.0
    var operations = DemoWorkload.Operations()
    var swapIns = 0
    var p50 = 0.0
    var p99 = 0.0
    var residentBytes = 0
    var residentMaxBytes = 0
    var poolBytes = 0
    var origBytes = 0
    var comprBytes = 0
    var samePages = 0
    var mmStatLine = ""
    var records = 0
    var mismatches = 0
    var kernel: KernelOutcome = .notRequested

    init(run: DemoRun, mode: Mode) {
        self.run = run
        self.mode = mode
    }

    /// Takes the pool's figures from its mm_stat.
    mutating func record(pool mm: ZramMMStat) {
        poolBytes = mm.memUsedTotal
        origBytes = mm.origDataSize
        comprBytes = mm.comprDataSize
        samePages = mm.samePages
        mmStatLine = ProcFile.trimmed(mm.line)
    }

    /// Takes a timed verification's records, mismatches and time.
    mutating func record(verification: (result: (records: Int, mismatches: Int), seconds: Double)) {
        records = verification.result.records
        mismatches = verification.result.mismatches
        verifySeconds = verification.seconds
    }

    /// Every record matched, no lookup saw a bad record, and a measured kernel side verified.
    var clean: Bool {
        guard mismatches == 0, operations.badRecords == 0 else { return false }
        if case .measured(let k) = kernel, !k.verified { return false }
        if case .failed = kernel { return false }
        return true
    }

    var logicalBytes: Int { run.sizeMiB << 20 }
    var ramBytes: Int { residentMaxBytes + poolBytes }

    /// The readable report.
    var report: String {
        let mibL = run.sizeMiB
        var lines: [String] = []
        switch mode {
        case .region:
            lines.append("USwap demo: a \(mibL) MiB table of \(grouped(run.workload.table.recordCount)) records, "
                + "living in \(run.residentMiB) MiB of RAM (a SwapRegion over an in-process zram device)")
        case .device(let reason):
            lines.append("USwap demo: userfaultfd is not usable here (\(reason)),")
            lines.append("so the table's pages go straight into the in-process zram device (store, load, verify).")
        }
        lines.append("")
        var table = KeyValueLines()
        table.append(["logical size", mib(logicalBytes)])
        if mode == .region {
            table.append(["RAM used", "\(mib(residentMaxBytes)) resident (max) + \(mib(poolBytes)) compressed pool = \(mib(ramBytes)) "
                + "(\(formatted(100 * Double(ramBytes) / Double(logicalBytes), digits: 0))% of the table)"])
        } else {
            table.append(["RAM used", "\(mib(poolBytes)) compressed pool (\(formatted(100 * Double(poolBytes) / Double(logicalBytes), digits: 0))% of the table)"])
        }
        if comprBytes > 0 {
            table.append(["compression", "\(formatted(Double(origBytes) / Double(comprBytes), digits: 2))x "
                + "(\(mib(origBytes)) swapped out -> \(mib(comprBytes)) compressed; \(grouped(samePages)) zero pages stored as nothing)"])
        }
        if mode == .region {
            let ops = operations
            table.append(["work", "\(grouped(ops.lookups)) lookups + \(grouped(ops.updates)) updates (+\(grouped(ops.freedHits)) hits on freed blocks), "
                + "Zipf(\(DemoWorkload.zipf)) over pages, \(formatted(ops.seconds, digits: 2)) s = "
                + "\(formatted(run.operations > 0 ? ops.seconds * 1e6 / Double(run.operations) : 0, digits: 2)) us each"])
            table.append(["swap-ins", "\(grouped(swapIns)) (fault latency p50 \(formatted(p50, digits: 1)) us, p99 \(formatted(p99, digits: 1)) us)"])
        }
        table.append(["verification", mismatches == 0 && operations.badRecords == 0
            ? "verified: all \(grouped(records)) records match (0 mismatches)"
            : "FAILED: \(mismatches) records differ, \(operations.badRecords) bad lookups"])
        table.append(["time", "build \(formatted(buildSeconds, digits: 1)) s, verify \(formatted(verifySeconds, digits: 1)) s"])
        lines.append(table.rendered)
        lines.append("  mm_stat       \(mmStatLine)")
        lines.append("")
        switch kernel {
        case .measured(let k):
            lines.append("kernel zram (the same work on plain memory in a \(run.residentMiB) MiB memory cgroup, zram0 lz4 as swap):")
            lines.append("  \(formatted(k.usPerTouch, digits: 2)) us per operation (uswap \(formatted(run.operations > 0 ? operations.seconds * 1e6 / Double(run.operations) : 0, digits: 2))), "
                + "\(grouped(k.majorFaults)) major faults (uswap \(grouped(swapIns)) swap-ins)")
            lines.append("  RAM \(mibOrUnavailable(k.memoryBytes)) (cgroup peak over the operations \(mibOrUnavailable(k.cgroupPeakBytes)) "
                + "of its \(run.residentMiB) MiB limit + \(mibOrUnavailable(k.zramMemUsedTotal)) zram; uswap \(mib(ramBytes))), "
                + (k.verified ? "verified" : "NOT verified: \(k.mismatches) records differ"))
            for (figure, reason) in k.unavailableFigures.sorted(by: { $0.key < $1.key }) {
                lines.append("  \(figure) unavailable: \(reason)")
            }
        case .notRequested:
            lines.append("kernel: not measured (--skip-kernel)")
        case .unavailable(let reason), .failed(let reason):
            lines.append("kernel: unavailable (\(reason))")
        }
        if totalSeconds > 0 { lines.append("done in \(formatted(totalSeconds, digits: 1)) s") }
        return lines.joined(separator: "\n")
    }
}

extension DemoResult: Encodable {
    /// The one JSON object for scripts: memory (`logical_bytes`, `ram_used_bytes`, the pool's
    /// mm_stat figures), the work and its latency, `verified`, `mode` (and why userfaultfd was
    /// unusable), and `kernel`: the kernel's figures on the same work, or `unavailable` and why.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: JSONKey.self)
        try container.encode(logicalBytes, forKey: "logical_bytes")
        try container.encode(run.residentMiB << 20, forKey: "resident_limit_bytes")
        try container.encode(residentMaxBytes, forKey: "resident_max_bytes")
        try container.encode(poolBytes, forKey: "pool_mem_used_total")
        try container.encode(ramBytes, forKey: "ram_used_bytes")
        try container.encode(Nullable(finite: comprBytes > 0 ? Double(origBytes) / Double(comprBytes) : nil), forKey: "compression_ratio")
        try container.encode(origBytes, forKey: "orig_data_size")
        try container.encode(comprBytes, forKey: "compr_data_size")
        try container.encode(samePages, forKey: "same_pages")
        try container.encode(mmStatLine, forKey: "mm_stat")
        try container.encode(swapIns, forKey: "swap_ins")
        try container.encode(p50, forKey: "p50_us")
        try container.encode(p99, forKey: "p99_us")
        try container.encode(records, forKey: "records")
        try container.encode(run.operations, forKey: "operations")
        try container.encode(operations.lookups, forKey: "lookups")
        try container.encode(operations.updates, forKey: "updates")
        try container.encode(run.operations > 0 ? operations.seconds * 1e6 / Double(run.operations) : 0, forKey: "us_per_operation")
        try container.encode(clean, forKey: "verified")
        try container.encode(mismatches, forKey: "mismatches")
        try container.encode(totalSeconds, forKey: "seconds")
        switch mode {
        case .region:
            try container.encode("swap-region", forKey: "mode")
        case .device(let reason):
            try container.encode("zram-device", forKey: "mode")
            try container.encode(reason, forKey: "userfaultfd_unavailable")
        }
        if case .measured(let k) = kernel {
            try container.encode(KernelDemoFigures(report: k, limitBytes: run.residentMiB << 20), forKey: "kernel")
        } else {
            try container.encode(Unavailable(kernel.summary), forKey: "kernel")
        }
    }
}

/// The `kernel` object of `demo --json`: the kernel child's figures per operation and its RAM,
/// measured: `ram_used_bytes` is the cgroup's peak over the operations (`cgroup_peak_bytes`,
/// memory.max_usage_in_bytes reset when they started) plus zram0's mem_used_total; each is null
/// when it could not be read, and `figures_unavailable` says why.
private struct KernelDemoFigures: Encodable {
    let report: KernelChildReport
    /// The cgroup's configured limit (the demo's --resident).
    let limitBytes: Int

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: JSONKey.self)
        try container.encode(report.usPerTouch, forKey: "us_per_operation")
        try container.encode(report.cpuUsPerTouch, forKey: "cpu_us_per_operation")
        try container.encode(report.majorFaults, forKey: "major_faults")
        try container.encode(Nullable(report.zramMemUsedTotal), forKey: "zram_mem_used_total")
        try container.encode(Nullable(report.memoryBytes), forKey: "ram_used_bytes")
        try container.encode(Nullable(report.cgroupPeakBytes), forKey: "cgroup_peak_bytes")
        try container.encode(limitBytes, forKey: "cgroup_limit_bytes")
        if !report.unavailableFigures.isEmpty { try container.encode(report.unavailableFigures, forKey: "figures_unavailable") }
        try container.encode(report.zramMMStatLine, forKey: "zram_mm_stat")
        try container.encode(report.verified, forKey: "verified")
        try container.encode(report.mismatches, forKey: "mismatches")
    }
}

/// Lines of "label  value" with the values aligned.
struct KeyValueLines {
    private var rows: [(String, String)] = []

    /// Adds a row (the first cell is the label).
    mutating func append(_ cells: [String]) { rows.append((cells[0], cells.count > 1 ? cells[1] : "")) }

    /// The aligned lines.
    var rendered: String {
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { "  " + $0.0 + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 }.joined(separator: "\n")
    }
}

/// `value` with thousands separators (`1,234,567`).
func grouped(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return value < 0 ? "-" + out : out
}
