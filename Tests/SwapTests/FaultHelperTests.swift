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

    /// The kernel's way: only the access whose swap-in failed gets the SIGBUS. When the disk
    /// has recovered by the next access (the helper's own SIGBUS handler clears the injected
    /// faults and returns), that access reads the slot again and gets the page: a handler
    /// thread's poison marker was cleared in the SIGBUS, the slot kept until then.
    @Test(arguments: modes, reads)
    func afterTheBackendRecoversTheNextAccessReadsThePageAgain(mode: String, reads: String) async throws {
        guard userfaultfdAvailable() else { return }
        let run = try await runFaultHelper(["fail-read", "--mode", mode, "--reads", reads, "--retries", "1", "--recover"])
        #expect(run.exitCode == 0, "exit \(String(describing: run.exitCode)), signal \(String(describing: run.signal)), output: \(run.output)")
        #expect(run.fields(of: "sigbus-again:") == nil, "the page stayed poisoned: \(run.output)")
        let sigbus = try #require(run.fields(of: "sigbus:"), "helper printed: \(run.output)")
        #expect(sigbus["still_swapped"] == "1", "the failed read kept the slot")
        #expect(sigbus["failed_faults"] == "1")
        #expect(sigbus["poisoned_faults"] == (mode == "handler-thread" ? "1" : "0"))
        let after = try #require(run.fields(of: "after:"), "helper printed: \(run.output)")
        #expect(after["value"] == "ok")
        #expect(after["sigbuses"] == "1")
        #expect(after["failed_faults"] == "1")
        #expect(after["failed_reads"] == "2", "the first access's read and its retry")
        #expect(after["swap_ins"] == "1")
        #expect(after["slot_freed"] == "1", "installed, then freed on swap-in")
        #expect(after["poisoned_faults"] == (mode == "handler-thread" ? "1" : "0"))
        #expect(after["poisons_cleared"] == (mode == "handler-thread" ? "1" : "0"))
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

    /// Reclaim runs on a thread of its own where the process may use two or more CPUs, in the
    /// fault path where it has one: the helper held to one CPU by taskset, and as it is.
    @Test func theDefaultReclaimFollowsTheCPUsTheProcessMayUse() async throws {
        let taskset = "/usr/bin/taskset"
        guard access(taskset, X_OK) == 0, let helper = BuiltProducts.path(of: "USwapFaultHelper") else {
            CIGate.unavailable("taskset (util-linux) or the helper")
            return
        }
        let pinned = try await HelperProcess.run(path: taskset, ["-c", "0", helper, "defaults"])
        #expect(pinned.fields(of: "defaults:")?["reclaim"] == "in-fault", "\(pinned.output)")
        // The CPUs this process may use, from the kernel's own list ("0-1,4").
        let status = try ProcFile.read("/proc/self/status")
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
        let list = try #require(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).last)
        var cpus = 0
        for range in list.split(separator: ",") {
            let ends = range.split(separator: "-").compactMap { Int($0) }
            cpus += ends.count == 2 ? ends[1] - ends[0] + 1 : 1
        }
        let free = try await HelperProcess.run("USwapFaultHelper", ["defaults"])
        #expect(free.fields(of: "defaults:")?["reclaim"] == (cpus >= 2 ? "background" : "in-fault"), "\(cpus) CPUs: \(free.output)")
    }
}
