import Testing

@testable import TestSupport

@Suite struct HelperProcessTests {
    @Test func runReportsExitCodesAndInterleavedOutput() async throws {
        let run = try await HelperProcess.run(path: "/bin/sh", ["-c", "echo out=1 x=2; echo err >&2; exit 3"])
        #expect(run.exitCode == 3 && run.signal == nil)
        #expect(run.output.contains("out=1") && run.output.contains("err"))
        #expect(run.fields(of: "out=") == ["out": "1", "x": "2"])
        #expect(run.fields(of: "missing") == nil)
    }

    @Test func runReportsTheSignalThatEndedTheProcess() async throws {
        let run = try await HelperProcess.run(path: "/bin/sh", ["-c", "kill -BUS $$"])
        #expect(run.signal == 7 && run.exitCode == nil)
    }

    @Test func environmentIsAddedToTheChilds() async throws {
        let run = try await HelperProcess.run(path: "/bin/sh", ["-c", "echo \"v=$USWAP_T\""], environment: ["USWAP_T": "yes"])
        #expect(run.fields(of: "v=")?["v"] == "yes")
    }

    @Test func aProductThatWasNotBuiltIsAClearError() async {
        await #expect(throws: HelperProcessError.self) { try await HelperProcess.run("NoSuchProductHere", []) }
        #expect(BuiltProducts.path(of: "NoSuchProductHere") == nil)
    }
}
