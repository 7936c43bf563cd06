import Benchmarks
import Testing
@testable import USwapCLI

@Suite struct BenchDeviceTests {
    @Test func theCommandRejectsBadOptions() throws {
        #expect(throws: (any Error).self) { try BenchDevice.parse(["--corpus", "x", "--codec", "lzma"]) }
        #expect(throws: (any Error).self) { try BenchDevice.parse(["--corpus", "x", "--threads", "0"]) }
        let command = try BenchDevice.parse(["--corpus", "x", "--codec", "zstd-3", "--threads", "4", "--vs-kernel", "--json"])
        #expect(command.threads == 4 && command.vsKernel && command.json && command.runs == 3)
    }
}
