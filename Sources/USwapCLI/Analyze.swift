import ArgumentParser
import Benchmarks
import KernelSwap
import PageCodecs
import ProcessAnalysis
import SystemSupport

/// `uswap analyze --pid PID`: what compressed swap would save for a running process.
struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "What compressed swap would save for a running process.",
        discussion: """
            Reads the process's anonymous memory (the [heap] and anonymous read-write mappings) \
            page by page with process_vm_readv, without \
            stopping or attaching to it. Pages that are not present (never touched, or swapped out) \
            are skipped and counted. Every page read is stored in a ZramDevice per codec, sized to \
            the pages read, and the device's mm_stat says what zram would use for them.
            Needs ptrace access to the process: the same user (and kernel.yama.ptrace_scope 0), or \
            root / CAP_SYS_PTRACE.
            """)

    @Option(help: "The id of the process to analyse.")
    var pid: Int32

    @Option(help: "Codecs to try, comma separated: lz4, zstd (level 1), zstd-3, ...")
    var codec: String = "lz4,zstd-1"

    @Option(help: "Read only this percentage of the present pages, evenly spread (for very large processes).")
    var sample: Double = 100

    @Option(help: "Also write the pages read, back to back, to this new file (mode 0600: they are the process's memory; a corpus for `uswap bench device`). A link at the path is refused; so is a file that holds data, unless --force.")
    var dump: String?

    @Flag(help: "Replace a regular file that holds data at the --dump path (never a link, a directory or a device).")
    var force = false

    @Flag(help: "Print one JSON object on stdout instead of the human report.")
    var json = false

    /// The codecs asked for, parsed.
    static func parseCodecs(_ text: String) throws(ValidationError) -> [PageCodecFactory] {
        var result: [PageCodecFactory] = []
        for name in text.split(separator: ",") {
            let trimmed = ProcFile.trimmed(name)
            guard let factory = PageCodecFactory(name: trimmed) else {
                throw ValidationError("unknown codec \"\(trimmed)\": use lz4, zstd, or zstd-LEVEL (-7...22)")
            }
            if !result.contains(factory) { result.append(factory) }
        }
        guard !result.isEmpty else { throw ValidationError("--codec needs at least one codec, e.g. lz4") }
        return result
    }

    func validate() throws {
        _ = try Self.parseCodecs(codec)
        guard sample > 0, sample <= 100 else {
            throw ValidationError("--sample \(sample) must be a percentage above 0 and at most 100")
        }
        guard pid > 0 else { throw ValidationError("--pid \(pid) is not a process id") }
    }

    func run() throws {
        var analysis = MemoryAnalysis(pid: pid, codecs: try Self.parseCodecs(codec), pool: .zram)
        analysis.samplePercent = sample
        analysis.dumpPath = dump
        analysis.dumpExisting = force ? .replaceRegularFile : .refuseNonEmpty
        // Ctrl-C (or TERM, HUP) during the scan removes the unfinished dump.
        let pendingRemoval = PendingCleanup()
        defer { pendingRemoval.cancel() }
        if let dump {
            SignalCleanup.installHandlers()
            analysis.dumpCreated = { entry in pendingRemoval.register("rm \(dump) (unfinished)") { entry.remove() } }
        }
        var bar: Progress? = nil
        analysis.progress = { (done: Int, total: Int) in
            if bar == nil { bar = Progress("analyze pid \(pid)", total: total) }
            bar?.update(done, detail: "pages")
        }
        let report: MemoryAnalysisReport
        do throws(MemoryAnalysisError) {
            report = try analysis.run()
        } catch {
            bar?.finish()
            throw AnalyzeFailure(error: error)
        }
        bar?.finish()
        let command = try? ProcFile.readValue("/proc/\(pid)/comm")
        if report.processExited {
            StandardError.line(
                "warning: process \(pid) exited during the scan; the figures cover the \(report.scannedPages) pages read until then")
        }
        if json {
            print(try JSONOutput.render(AnalyzeOutput.json(report, command: command, dump: dump)))
        } else {
            print(AnalyzeOutput.human(report, command: command, dump: dump))
        }
    }
}

/// An analysis failure as the command reports it: the analysis error's own message.
struct AnalyzeFailure: Error, CustomStringConvertible {
    /// What went wrong.
    var error: MemoryAnalysisError
    var description: String { error.description }
}

/// The report of `uswap analyze`, for people and for scripts.
enum AnalyzeOutput {
    /// The one JSON object `--json` prints (see ``AnalyzeJSON``).
    static func json(_ report: MemoryAnalysisReport, command: String?, dump: String?) -> AnalyzeJSON {
        AnalyzeJSON(report: report, command: command, dump: dump)
    }

    /// The human report.
    static func human(_ report: MemoryAnalysisReport, command: String?, dump: String?) -> String {
        let pageSize = report.pageSize
        func pages(_ n: Int) -> String { "\(n) (\(bytes(n * pageSize)))" }
        func share(_ n: Int, of total: Int) -> String {
            total == 0 ? "" : " = \(formatted(Double(n) * 100 / Double(total), digits: 1))%"
        }
        var lines: [String] = []
        lines.append("process \(report.pid)\(command.map { " (\($0))" } ?? ""): \(report.mappings.count) anonymous mappings ([heap] and anonymous read-write)")
        lines.append("  virtual pages     \(pages(report.virtualPages))")
        lines.append("  present pages     \(pages(report.presentPages))")
        lines.append(
            "  skipped           \(report.notPresentPages) not present (never touched), \(report.swappedPages) swapped out (reading would swap them in)")
        var scanned = "  scanned pages     \(pages(report.scannedPages)) in \(formatted(report.seconds, digits: 2)) s"
        if report.samplePercent < 100 {
            scanned += "; SAMPLED: \(formatted(report.samplePercent, digits: 2))% of the present pages, evenly spread"
        }
        lines.append(scanned)
        if report.vanishedPages > 0 {
            lines.append("  vanished          \(report.vanishedPages) pages were unmapped while being read")
        }
        if report.processExited {
            lines.append("  PROCESS EXITED during the scan: figures cover the pages read until then")
        }
        lines.append("  zero pages        \(report.zeroPages)\(share(report.zeroPages, of: report.scannedPages))")
        lines.append(
            "  same-filled pages \(report.sameFilledPages)\(share(report.sameFilledPages, of: report.scannedPages)) (one non-zero word repeated)")
        if let dump { lines.append("  dump              \(dump) (\(report.scannedPages) pages back to back)") }
        lines.append("")

        var table = TextTable(headers: [
            "codec", "ratio", "compr_data_size", "mem_used_total", "saved", "saved %", "huge", "<=1/4", "<=1/2", "<=3/4",
            "<=1",
        ])
        for c in report.codecs {
            table.append([
                c.name, c.ratio.isFinite ? formatted(c.ratio, digits: 2) : "inf", bytes(c.pool.comprDataSize),
                bytes(c.pool.memUsedTotal), bytes(c.savedBytes), formatted(c.savedPercent, digits: 1),
                String(c.pool.hugePages), String(c.histogram[0]), String(c.histogram[1]), String(c.histogram[2]),
                String(c.histogram[3]),
            ])
        }
        lines.append("What a ZramDevice uses for these pages (mm_stat; histogram: compressed pages by compressed size, in quarters of a page; huge: stored raw):")
        lines.append(table.rendered)
        if let table = report.codecs.first?.pool.slotTableBytes {
            lines.append("(plus the slot table, \(bytes(table)), which zram reports outside mem_used_total)")
        }
        for c in report.codecs {
            guard let kernel = c.pool.kernelMemUsedTotal else { continue }
            lines.append(
                "\(c.name): the kernel's zram would hold ~\(bytes(kernel)) for these pages (modeled, not measured: its zsmalloc allocates whole zspages; this device commits span pages as objects reach them)"
            )
        }
        if report.samplePercent < 100, report.scannedPages > 0 {
            let scale = Double(report.presentPages) / Double(report.scannedPages)
            for c in report.codecs {
                lines.append(
                    "projected for all \(report.presentPages) present pages, \(c.name): mem_used_total ~\(bytes(Int(Double(c.pool.memUsedTotal) * scale))), saved ~\(bytes(Int(Double(c.savedBytes) * scale)))"
                )
            }
        }
        for (index, c) in report.codecs.enumerated() {
            for (title, list) in [
                ("best", report.bestMappings(codec: index)), ("worst", report.worstMappings(codec: index)),
            ] where !list.isEmpty {
                lines.append("")
                lines.append("Mappings that compress \(title) with \(c.name):")
                var t = TextTable(headers: ["mapping", "address", "pages", "same-filled", "compressed", "ratio"])
                for m in list {
                    let ratio = m.ratio(codec: index, pageSize: pageSize) ?? 0
                    t.append([
                        m.mapping.name, "0x" + String(m.mapping.start, radix: 16), String(m.scannedPages),
                        String(m.zeroPages + m.sameFilledPages), bytes(m.compressedBytes[index]),
                        ratio.isFinite ? formatted(ratio, digits: 2) : "all same-filled",
                    ])
                }
                lines.append(t.rendered)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// `123.4 MiB`, `12.0 KiB`, `512 B` (negative sizes keep their sign).
    static func bytes(_ n: Int) -> String {
        let magnitude = Double(n.magnitude)
        let sign = n < 0 ? "-" : ""
        let kib = 1024.0
        let mib = kib * kib
        let gib = mib * kib
        if magnitude >= gib { return sign + formatted(magnitude / gib, digits: 2) + " GiB" }
        if magnitude >= mib { return sign + formatted(magnitude / mib, digits: 1) + " MiB" }
        if magnitude >= kib { return sign + formatted(magnitude / kib, digits: 1) + " KiB" }
        return "\(n) B"
    }
}

/// The one JSON object `uswap analyze --json` prints: the process's pages (virtual, present,
/// skipped, scanned, zero, same-filled), the sample, and `codecs`. Each codec entry has
/// `mem_used_total` (what the ZramDevice holds, measured) and, where the pool can say,
/// `kernel_zram_mem_used_total_modeled` (what the kernel's zram would hold for the same objects,
/// its zspages allocated whole: a model of zsmalloc, not a measurement of the kernel, hence the
/// suffix): the figure to compare with the kernel's mm_stat. Members are sorted, so that one is
/// the entry's first member whose name holds "mem", where the scoreboard's `analyze` check
/// looks. (It was `kernel_zram_mem_used_total` before; nothing else read that name, so it is
/// not kept.)
struct AnalyzeJSON: Encodable {
    /// The analysis.
    let report: MemoryAnalysisReport
    /// The process's name (`/proc/PID/comm`), if it could be read.
    let command: String?
    /// The dump's path, if one was written.
    let dump: String?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: JSONKey.self)
        try container.encode(Int(report.pid), forKey: "pid")
        try container.encode(report.pageSize, forKey: "page_size")
        try container.encode(report.mappings.count, forKey: "mappings_analyzed")
        try container.encode(report.virtualPages, forKey: "virtual_pages")
        try container.encode(report.presentPages, forKey: "present_pages")
        try container.encode(report.notPresentPages, forKey: "skipped_not_present_pages")
        try container.encode(report.swappedPages, forKey: "skipped_swapped_pages")
        try container.encode(report.selectedPages, forKey: "selected_pages")
        try container.encode(report.scannedPages, forKey: "scanned_pages")
        try container.encode(report.vanishedPages, forKey: "vanished_pages")
        try container.encode(report.zeroPages, forKey: "zero_pages")
        try container.encode(report.sameFilledPages, forKey: "same_filled_pages")
        try container.encode(report.samplePercent, forKey: "sample_percent")
        try container.encode(report.samplePercent < 100, forKey: "sampled")
        try container.encode(report.processExited, forKey: "process_exited")
        try container.encode(Self.rounded(report.seconds, 3), forKey: "seconds")
        try container.encode(report.codecs.indices.map { CodecEntry(report: report, index: $0) }, forKey: "codecs")
        try container.encodeIfPresent(command, forKey: "command")
        try container.encodeIfPresent(dump, forKey: "dump")
    }

    /// `value` rounded to `digits` decimals, as the JSON shows figures people read.
    static func rounded(_ value: Double, _ digits: Int) -> Double {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        return (value * scale).rounded() / scale
    }

    /// One codec's entry: the pool's mm_stat figures, the ratio and saving, the histogram, the
    /// best and worst mappings, and (sampled) the figures projected to every present page.
    private struct CodecEntry: Encodable {
        let report: MemoryAnalysisReport
        let index: Int

        func encode(to encoder: any Encoder) throws {
            let c = report.codecs[index]
            var container = encoder.container(keyedBy: JSONKey.self)
            try container.encode(c.name, forKey: "name")
            try container.encode(c.pool.memUsedTotal, forKey: "mem_used_total")
            try container.encode(c.pool.origDataSize, forKey: "orig_data_size")
            try container.encode(c.pool.comprDataSize, forKey: "compr_data_size")
            try container.encode(c.pool.samePages, forKey: "same_pages")
            try container.encode(c.pool.hugePages, forKey: "huge_pages")
            try container.encode(Nullable(finite: c.ratio.isFinite ? rounded(c.ratio, 3) : nil), forKey: "ratio")
            try container.encode(c.savedBytes, forKey: "saved_bytes")
            try container.encode(rounded(c.savedPercent, 2), forKey: "saved_percent")
            try container.encode(
                [
                    "up_to_quarter": c.histogram[0], "up_to_half": c.histogram[1], "up_to_three_quarters": c.histogram[2],
                    "up_to_page": c.histogram[3], "not_smaller": c.rawPages, "stored_huge": c.pool.hugePages,
                ], forKey: "histogram")
            let pageSize = report.pageSize
            try container.encode(report.bestMappings(codec: index).map { MappingEntry(m: $0, codec: index, pageSize: pageSize) }, forKey: "best_mappings")
            try container.encode(report.worstMappings(codec: index).map { MappingEntry(m: $0, codec: index, pageSize: pageSize) }, forKey: "worst_mappings")
            try container.encodeIfPresent(c.pool.slotTableBytes, forKey: "slot_table_bytes")
            try container.encodeIfPresent(c.pool.kernelMemUsedTotal, forKey: "kernel_zram_mem_used_total_modeled")
            if report.samplePercent < 100, report.scannedPages > 0 {
                let scale = Double(report.presentPages) / Double(report.scannedPages)
                try container.encode(
                    [
                        "used_total": Int((Double(c.pool.memUsedTotal) * scale).rounded()),
                        "saved_bytes": Int((Double(c.savedBytes) * scale).rounded()),
                    ], forKey: "projected_for_all_present_pages")
            }
        }
    }

    /// A mapping in a best or worst list: its name, addresses, pages and ratio (the text "all
    /// same-filled" when nothing needed compressing).
    private struct MappingEntry: Encodable {
        let m: MappingAnalysis
        let codec: Int
        let pageSize: Int

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: JSONKey.self)
            try container.encode(m.mapping.name, forKey: "name")
            try container.encode("0x" + String(m.mapping.start, radix: 16), forKey: "start")
            try container.encode("0x" + String(m.mapping.end, radix: 16), forKey: "end")
            try container.encode(m.scannedPages, forKey: "scanned_pages")
            try container.encode(m.zeroPages + m.sameFilledPages, forKey: "same_filled_pages")
            try container.encode(m.compressedBytes[codec], forKey: "compressed_bytes")
            let ratio = m.ratio(codec: codec, pageSize: pageSize) ?? 0
            if ratio.isFinite {
                try container.encode(rounded(ratio, 3), forKey: "ratio")
            } else {
                try container.encode("all same-filled", forKey: "ratio")
            }
        }
    }
}
