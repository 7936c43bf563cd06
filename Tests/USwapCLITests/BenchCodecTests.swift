import Benchmarks
import Testing
@testable import USwapCLI

@Suite struct BenchCodecTests {
    @Test func commandLineFlagsAreValidated() throws {
        let parsed = try BenchCodec.parse(["--corpus", "/c", "--codec", "zstd", "--zstd-levels", "-1,3", "--json"])
        #expect(parsed.codec == .zstd && parsed.zstdLevels == "-1,3" && parsed.json)
        #expect(throws: (any Error).self) { _ = try BenchCodec.parse(["--corpus", "/c", "--page-size", "5000"]) }
        #expect(throws: (any Error).self) { _ = try BenchCodec.parse(["--corpus", "/c", "--acceleration", "0"]) }
        #expect(throws: (any Error).self) { _ = try BenchCodec.parse(["--corpus", "/c", "--zstd-levels", "1,99"]) }
        #expect(throws: (any Error).self) { _ = try BenchCodec.parse(["--corpus", "/c", "--codec", "lzo"]) }
        #expect(throws: (any Error).self) { _ = try BenchCodec.parse([]) }
    }
}
