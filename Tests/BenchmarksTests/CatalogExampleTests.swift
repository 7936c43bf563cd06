import Benchmarks
import Testing
import TestSupport

/// Benchmarks.docc's example, through the public API alone (no `@testable`): what a package that
/// depends on Benchmarks can write.
@Suite struct CatalogExampleTests {
    @Test func theCatalogsCodecExampleRunsOnACorpus() throws {
        let file = try CorpusFileFixture([UInt8](repeating: 0x41, count: 4 * 4096) + (0..<4096).map { UInt8(truncatingIfNeeded: $0 * 7) })
        defer { file.remove() }
        var options = CodecBenchOptions(corpusPath: file.path)
        options.selection = .lz4
        options.passes = 3
        let report = try CodecBenchmark.run(options)
        #expect(report.allVerified && report.failures.isEmpty)
        #expect(report.table.contains("lz4"))
    }
}
