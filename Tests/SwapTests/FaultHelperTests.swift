import SystemSupport
import Testing
import TestSupport

/// Runs USwapFaultHelper (built beside the test bundle) with `arguments`.
func runFaultHelper(_ arguments: [String]) async throws -> HelperRun {
    try await HelperProcess.run("USwapFaultHelper", arguments)
}

/// A failed swap-in from the file tier ends the way the kernel ends it: the faulting access
/// raises SIGBUS, after the backend and the swap layer counted the failed reads and freed
/// nothing; a read that fails fewer times than the retries brings the page back.
@Suite(.serialized) struct FaultHelperTests {
    static let modes = ["signal", "handler-thread"]
    static let reads = ["inline", "io-threads:1"]

    @Test(arguments: modes, reads)
    func aFileReadThatAlwaysFailsKillsTheToucherWithSIGBUS(mode: String, reads: String) async throws {
        guard userfaultfdAvailable() else { return }
        let run = try await runFaultHelper(["fail-read", "--mode", mode, "--reads", reads, "--retries", "2"])
        let before = try #require(run.fields(of: "before:"), "helper printed: \(run.output)")
        #expect(before["location"] == "file")
        #expect(before["held"] == "1")
        #expect(before["failed_reads"] == "0")
        #expect(run.signal == SIGBUS, "exit \(String(describing: run.exitCode)), signal \(String(describing: run.signal)), output: \(run.output)")
        #expect(run.fields(of: "after:") == nil, "the touch must not complete")
    }

    /// With a SIGBUS handler of its own installed before the region (the region forwards a
    /// fault it cannot serve to it), the helper reports the state after the failure.
    @Test(arguments: modes, reads)
    func afterTheSIGBUSNothingWasFreedAndEveryAttemptWasCounted(mode: String, reads: String) async throws {
        guard userfaultfdAvailable() else { return }
        let run = try await runFaultHelper(["fail-read", "--mode", mode, "--reads", reads, "--retries", "2", "--own-handler"])
        #expect(run.signal == SIGBUS, "exit \(String(describing: run.exitCode)), signal \(String(describing: run.signal)), output: \(run.output)")
        let report = try #require(run.fields(of: "sigbus:"), "helper printed: \(run.output)")
        #expect(report["in_page"] == "1", "the SIGBUS names the touched page")
        #expect(report["failed_reads"] == "3")
        #expect(report["retries"] == "2")
        #expect(report["failed_faults"] == "1")
        #expect(report["backend_failed_reads"] == "3")
        #expect(report["injected"] == "3")
        #expect(report["still_swapped"] == "1")
        #expect(report["location"] == "file")
        #expect(report["swap_ins"] == "0")
        #expect(report["notify_free"] == "0")
    }

    @Test(arguments: modes, reads)
    func aReadThatFailsTwiceWithThreeRetriesBringsTheRightPage(mode: String, reads: String) async throws {
        guard userfaultfdAvailable() else { return }
        let run = try await runFaultHelper(["fail-read", "--mode", mode, "--reads", reads, "--retries", "3", "--failures", "2"])
        #expect(run.exitCode == 0, "exit \(String(describing: run.exitCode)), signal \(String(describing: run.signal)), output: \(run.output)")
        let after = try #require(run.fields(of: "after:"), "helper printed: \(run.output)")
        #expect(after["value"] == "ok")
        #expect(after["retries"] == "2")
        #expect(after["failed_reads"] == "2")
        #expect(after["failed_faults"] == "0")
        #expect(after["slot_freed"] == "1")
        #expect(after[reads == "inline" ? "inline_file_reads" : "file_reads"] == "1")
    }

    @Test func aBadScenarioIsAUsageError() async throws {
        let run = try await runFaultHelper(["no-such-scenario"])
        #expect(run.exitCode == 64, "ArgumentParser's usage error (EX_USAGE)")
        #expect(run.output.contains("no-such-scenario"))
    }

    @Test func aBadOptionValueIsAUsageErrorThatNamesTheChoices() async throws {
        let run = try await runFaultHelper(["fail-read", "--mode", "sometimes"])
        #expect(run.exitCode == 64)
        #expect(run.output.contains("signal") && run.output.contains("handler-thread"))
    }
}
