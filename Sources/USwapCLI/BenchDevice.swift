import ArgumentParser
import Benchmarks
import KernelSwap
import PageCodecs
import SystemSupport

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
