import ArgumentParser
import Benchmarks
import PageCodecs
import SystemSupport
import Workloads

/// `uswap bench codec`: every page of a corpus through each codec, side by side with liblz4.
struct BenchCodec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec",
        abstract: "Compress and decompress every page of a corpus with each codec, side by side with liblz4.",
        discussion: """
            Each codec gets the same procedure in the same run: best of 5 single-threaded passes over \
            all pages for compression, then for decompression, into buffers allocated once; every page \
            is checked to decode to the original outside the timed passes (a mismatch exits non-zero). \
            MB is 10^6 bytes of uncompressed page data. Same-filled pages are counted but not skipped.
            """)

    @Option(help: "A file of memory pages (its whole pages are used; a trailing remainder is ignored).")
    var corpus: String

    @Option(help: "Which codecs: lz4 (ours and liblz4), zstd, or all.")
    var codec: CodecSelection = .all

    @Option(help: "Page size in bytes: a power of two from 4096 to 65536.")
    var pageSize: Int = PageSize.default

    @Option(help: "LZ4 acceleration for both our LZ4 and liblz4 (1 = LZ4_compress_default).")
    var acceleration: Int = 1

    @Option(parsing: .unconditional, help: "Comma-separated zstd levels, -7...22 (e.g. 1,-1,3).")
    var zstdLevels: String = "1"

    @Flag(help: "Print exactly one JSON object on stdout.")
    var json = false

    func validate() throws {
        guard PageSize.isValid(pageSize) else { throw ValidationError(CorpusError.invalidPageSize(pageSize).description) }
        guard CodecBenchOptions.accelerations.contains(acceleration) else {
            throw ValidationError(CodecBenchError.invalidAcceleration(acceleration).description)
        }
        do { _ = try CodecBenchOptions.parseLevels(zstdLevels) } catch { throw ValidationError(error.description) }
    }

    func run() throws {
        let options = CodecBenchOptions(
            corpusPath: corpus, pageSize: pageSize, selection: codec, acceleration: acceleration,
            zstdLevels: try CodecBenchOptions.parseLevels(zstdLevels))
        let report: CodecBenchReport
        do {
            report = try CodecBenchmark.run(options, showProgress: true)
        } catch {
            StandardError.line("error: \(error)")
            throw ExitCode.failure
        }
        print(json ? try JSONOutput.render(report) : report.table)
        if !report.allVerified {
            for failure in report.failures { StandardError.line("error: \(failure)") }
            throw ExitCode.failure
        }
    }
}

extension CodecSelection: ExpressibleByArgument {}
