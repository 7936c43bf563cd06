import TestSupport
import Testing
import Workloads

@testable import ProcessAnalysis

/// The helper's command line (ArgumentParser): what the tests that read its memory rely on.
@Suite struct USwapTestHelperTests {
    @Test func itReportsEveryPatternsMappingAndExitsWhenAsked() async throws {
        let run = try await HelperProcess.run("USwapTestHelper", ["--text", "3", "--untouched", "2", "--exit-after-ms", "0"])
        #expect(run.exitCode == 0, "\(run.output)")
        let fields = try #require(run.fields(of: "ready"))
        #expect(fields["pagesize"] == String(MemoryAnalysis.systemPageSize))
        for pattern in MemoryPattern.allCases {
            let area = try #require(fields[pattern.rawValue], "no \(pattern.rawValue)=")
            let pages = pattern == .text ? "3" : pattern == .untouched ? "2" : "0"
            #expect(area.hasPrefix("0x") && area.hasSuffix(":\(pages)"))
        }
    }

    @Test(arguments: [["--zero", "-1"], ["--text", "x"], ["--bogus", "1"], ["--exit-after-ms", "-5"]])
    func badArgumentsAreRefusedWithAMessage(arguments: [String]) async throws {
        let run = try await HelperProcess.run("USwapTestHelper", arguments)
        #expect(run.exitCode != 0 && run.exitCode != nil)
        #expect(run.output.contains("Error") || run.output.contains("error"), "\(run.output)")
        #expect(!run.output.contains("ready"))
    }
}
