import Foundation
import ProcessPager
import Synchronization
import TestSupport
import Testing

@testable import USwapCLI

@Suite struct ByteCountTests {
    @Test(arguments: [("4096", 4096), ("256K", 256 << 10), ("80M", 80 << 20), ("80MiB", 80 << 20), ("2G", 2 << 30), ("1t", 1 << 40)])
    func sizesReadAsBinaryUnits(text: String, bytes: Int) {
        #expect(ByteCount(argument: text)?.bytes == bytes)
    }

    @Test(arguments: ["", "M", "-1M", "0", "12Q", "99999999999999999T"])
    func nonsenseIsRefused(text: String) {
        #expect(ByteCount(argument: text) == nil)
    }
}

/// The small C programs under Programs/, built with the system's C compiler once per test run.
enum TestPrograms {
    private static let built = Mutex<[String: String]>([:])

    static var sourceDirectory: String { URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Programs" }

    /// The executable for Programs/`name`.c, compiled on first use.
    static func path(of name: String) throws -> String {
        if let path = built.withLock({ $0[name] }) { return path }
        let directory = NSTemporaryDirectory() + "uswap-run-tests-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let output = "\(directory)/\(name)"
        // Compiled under a name of its own and renamed into place: two tests that ask at once
        // never run a file the other's compiler is still writing.
        let partial = "\(output).\(UUID().uuidString)"
        let compile = Process()
        compile.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        compile.arguments = ["cc", "-O2", "-pthread", "-I", sourceDirectory, "-o", partial, "\(sourceDirectory)/\(name).c"]
        try compile.run()
        compile.waitUntilExit()
        guard compile.terminationStatus == 0, rename(partial, output) == 0 else {
            unlink(partial)
            throw TestProgramError.compile(name)
        }
        built.withLock { $0[name] = output }
        return output
    }
}

enum TestProgramError: Error, CustomStringConvertible {
    case compile(String)
    var description: String {
        switch self {
        case .compile(let name): "cannot compile Programs/\(name).c with cc: install gcc"
        }
    }
}

/// What a `uswap run` test needs, or why it cannot run here.
enum RunEnvironment {
    /// uswap's path, or nil with the reason printed (CI: recorded as a failure).
    static func uswap(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        if let error = ProcessPager.fullUserfaultfdUnavailable() {
            CIGate.unavailable("uswap run needs a full userfaultfd: \(error)", sourceLocation: sourceLocation)
            return nil
        }
        guard access("/usr/bin/cc", X_OK) == 0 || access("/usr/bin/gcc", X_OK) == 0 else {
            CIGate.unavailable("a C compiler (cc) for the test programs", sourceLocation: sourceLocation)
            return nil
        }
        guard let uswap = BuiltProducts.path(of: "uswap") else {
            CIGate.unavailable("the uswap executable (swift build)", sourceLocation: sourceLocation)
            return nil
        }
        guard (try? AgentFiles.locate(executable: uswap, allocator: "none")) != nil else {
            CIGate.unavailable("\(AgentFiles.agentName) beside uswap (building uswap builds it)", sourceLocation: sourceLocation)
            return nil
        }
        return uswap
    }
}

/// A finished `uswap run` of a test program.
struct ManagedRun {
    var run: HelperRun
    var report: RunReport?

    /// Runs Programs/`program`.c with `arguments` under `uswap run --resident resident`.
    static func start(
        _ uswap: String, program: String, _ arguments: [String], resident: String, extra: [String] = []
    ) async throws -> ManagedRun {
        let executable = try TestPrograms.path(of: program)
        let reportPath = NSTemporaryDirectory() + "uswap-run-report-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: reportPath) }
        let run = try await HelperProcess.run(
            path: uswap, ["run", "--quiet", "--report", reportPath, "--resident", resident] + extra + ["--", executable] + arguments)
        var report: RunReport? = nil
        if let data = FileManager.default.contents(atPath: reportPath) {
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            report = try decoder.decode(RunReport.self, from: data)
        }
        return ManagedRun(run: run, report: report)
    }

    /// Checks what every run must show: the expected line, exit 0, real paging (at least
    /// `minimumSwapOuts` pages out), nothing lost, no page the pager could not account for.
    func expectPagedCleanly(line: String, minimumSwapOuts: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(run.exitCode == 0, "exit \(String(describing: run.exitCode)) signal \(String(describing: run.signal)): \(run.output)", sourceLocation: sourceLocation)
        #expect(run.output.contains(line), "output: \(run.output)", sourceLocation: sourceLocation)
        #expect(!run.output.contains("FAIL"), "output: \(run.output)", sourceLocation: sourceLocation)
        guard let report else {
            Issue.record("no report written", sourceLocation: sourceLocation)
            return
        }
        #expect(report.swapOuts >= minimumSwapOuts, "swap-outs \(report.swapOuts) < \(minimumSwapOuts)", sourceLocation: sourceLocation)
        #expect(report.swapIns > 0, sourceLocation: sourceLocation)
        #expect(report.pager.lostPages == 0, sourceLocation: sourceLocation)
        #expect(report.pager.unexpectedMissing == 0, sourceLocation: sourceLocation)
        #expect(report.pager.failedReads == 0, sourceLocation: sourceLocation)
        #expect(report.exitStatus == 0, sourceLocation: sourceLocation)
        #expect(report.pager.usedSlots == 0, "every slot is freed once the program is gone", sourceLocation: sourceLocation)
        #expect(report.pager.residentPages == 0 && report.pager.scratchPages == 0, sourceLocation: sourceLocation)
    }
}

/// `uswap run` end to end on small C programs, each under a resident limit of a quarter of its
/// heap or less. Each test also checks that a good share of the heap really went out.
@Suite(.serialized) struct RunTests {
    /// Pages in `mib` MiB.
    static func pages(_ mib: Int) -> Int { mib * 256 }

    @Test func mallocCallocReallocAndPosixMemalignChurnKeepsEveryBlock() async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let run = try await ManagedRun.start(uswap, program: "churn", ["32"], resident: "8M")
        run.expectPagedCleanly(line: "churn ok", minimumSwapOuts: Self.pages(16))
        // The agent's own faults are never parked (docs/RUN.md), so the cap can be passed by a
        // few pages until the next batch: seen once at 8 MiB + 1 page.
        #expect((run.report?.residentMaxBytes ?? .max) <= (8 << 20) + 16 * 4096)
        #expect((run.report?.swappedMaxBytes ?? 0) >= 16 << 20, "at least half of the 32 MiB heap out at once")
    }

    @Test func eightThreadsOnASharedHeapSeeEveryUpdate() async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let run = try await ManagedRun.start(uswap, program: "threads", ["16", "2"], resident: "8M")
        run.expectPagedCleanly(line: "threads ok", minimumSwapOuts: Self.pages(16))
    }

    @Test func readAndWriteSystemCallsWorkOnSwappedOutAndFreshPages() async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let run = try await ManagedRun.start(uswap, program: "syscalls", ["8"], resident: "2M")
        run.expectPagedCleanly(line: "syscalls ok", minimumSwapOuts: Self.pages(8))
    }

    @Test func aForkedChildSeesItsParentsMemoryAsOfTheForkWhileTheParentRewritesIt() async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let run = try await ManagedRun.start(uswap, program: "forking", ["32"], resident: "8M")
        run.expectPagedCleanly(line: "fork ok", minimumSwapOuts: Self.pages(24))
        #expect(run.report?.pager.forks == 1)
        #expect(run.report?.pager.unannouncedForks == 0)
        #expect(run.report?.pager.sessionsStarted == 2)
        // The child reads the heap at four times its cap: pages it has read but not yet
        // rewritten go out again, back into the slots the fork shared.
        #expect((run.report?.pager.sharedSlotReuses ?? 0) > 0)
        // Pages resident in both at the fork go out of each on its own: the second to go shares
        // the first one's copy.
        #expect((run.report?.pager.relativeSlotShares ?? 0) > 0)
    }

    @Test func unmappedAndDiscardedPagesReadAsZerosAfterwards() async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let run = try await ManagedRun.start(uswap, program: "unmapping", ["16"], resident: "4M")
        run.expectPagedCleanly(line: "unmap ok", minimumSwapOuts: Self.pages(12))
        #expect((run.report?.pager.removedPages ?? 0) > 0)
    }

    @Test func mremapMovesPagesWithTheirMapping() async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let run = try await ManagedRun.start(uswap, program: "remapping", ["8"], resident: "2M")
        run.expectPagedCleanly(line: "mremap ok", minimumSwapOuts: Self.pages(12))
        #expect((run.report?.pager.remappedPages ?? 0) > 0)
    }

    @Test func aProgramsOwnSegvAndBusHandlersStillWork() async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let run = try await ManagedRun.start(uswap, program: "handlers", ["16"], resident: "4M")
        run.expectPagedCleanly(line: "handlers ok segv=1 bus=1", minimumSwapOuts: Self.pages(12))
    }

    @Test(arguments: ["lazy", "free-on-swapin"])
    func bothSlotPoliciesKeepTheProgramsMemory(policy: String) async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let run = try await ManagedRun.start(uswap, program: "churn", ["16"], resident: "4M", extra: ["--policy", policy])
        run.expectPagedCleanly(line: "churn ok", minimumSwapOuts: Self.pages(8))
        #expect(run.report?.policy == policy)
    }

    @Test(arguments: ["zstd", "lz4"])
    func aZswapBackendWithASmallPoolSpillsToItsFileAndLeavesNoFile(codec: String) async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let file = NSTemporaryDirectory() + "uswap-run-zswap-\(UUID().uuidString)"
        let run = try await ManagedRun.start(
            uswap, program: "churn", ["16"], resident: "4M", extra: ["--backend", "zswap:\(file)", "--codec", codec, "--pool-limit", "1M"])
        run.expectPagedCleanly(line: "churn ok", minimumSwapOuts: Self.pages(8))
        #expect(run.report?.codec.hasPrefix(codec) == true)
        #expect((run.report?.pager.fileReads ?? 0) > 0, "pages must come back from the file")
        #expect(!FileManager.default.fileExists(atPath: file))
    }

    @Test func zramWritesBackToItsFileAboveThePoolLimit() async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let file = NSTemporaryDirectory() + "uswap-run-writeback-\(UUID().uuidString)"
        let run = try await ManagedRun.start(
            uswap, program: "churn", ["16"], resident: "4M", extra: ["--writeback", file, "--pool-limit", "1M"])
        run.expectPagedCleanly(line: "churn ok", minimumSwapOuts: Self.pages(8))
        #expect((run.report?.pager.writtenBack ?? 0) > 0)
        #expect(!FileManager.default.fileExists(atPath: file))
    }

    @Test func theAgentGoesInFrontOfAnExistingPreloadWithTheAllocator() async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let run = try await HelperProcess.run(
            path: uswap, ["run", "--quiet", "--", "/usr/bin/printenv", "LD_PRELOAD"], environment: ["LD_PRELOAD": "libm.so.6"])
        #expect(run.exitCode == 0, "\(run.output)")
        let parts = run.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").map(String.init)
        #expect(parts.first?.hasSuffix("/libuswap-agent.so") == true, "\(run.output)")
        #expect(parts.last == "libm.so.6", "\(run.output)")
        if let allocator = AgentFiles.allocatorCandidates.first(where: { FileManager.default.fileExists(atPath: $0) }) {
            #expect(parts.count == 3 && parts[1] == allocator, "\(run.output)")
        }
    }

    @Test func aProgramWithoutAFullUserfaultfdIsRefusedWithWhatToGet() async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        // The agent's test knob: it behaves as if the kernel refused a full userfaultfd.
        let run = try await ManagedRun.start(uswap, program: "churn", ["8"], resident: "4M", extra: ["--agent-flags", "1"])
        #expect(run.run.exitCode == 126)
        #expect(run.run.output.contains("CAP_SYS_PTRACE"))
        #expect(run.run.output.contains("/dev/userfaultfd"))
        #expect(run.run.output.contains("vm.unprivileged_userfaultfd=1"))
        #expect(!run.run.output.contains("churn ok"), "the program must not run")
    }

    /// Runs `script` with bash; `$USWAP` and `$BUSY` name uswap and the busy program.
    static func shell(_ uswap: String, _ script: String) async throws -> HelperRun {
        let busy = try TestPrograms.path(of: "busy")
        let directory = NSTemporaryDirectory() + "uswap-run-kill-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try await HelperProcess.run(
            path: "/bin/bash", ["-c", script], environment: ["USWAP": uswap, "BUSY": busy, "WORK": directory])
    }

    /// bash: start the busy program under uswap in the background and wait until it is ready.
    static let startBusy = """
        set -u
        "$USWAP" run --quiet --resident 4M -- "$BUSY" 16 "$WORK/ready" > "$WORK/out" 2>&1 &
        U=$!
        for i in $(seq 200); do [ -s "$WORK/ready" ] && break; sleep 0.05; done
        P=$(awk '{print $2}' "$WORK/ready")
        [ -n "$P" ] || { echo "never ready"; exit 1; }
        sleep 0.5
        """

    @Test func aProgramKilledBySigkillLeavesNothingBehind() async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let run = try await Self.shell(uswap, Self.startBusy + """

            grep -q "@uswap-run.$U" /proc/net/unix && echo "listed while running"
            kill -KILL "$P"
            wait "$U"; echo "uswap exit $?"
            grep -q "@uswap-run.$U" /proc/net/unix && echo "socket left behind"
            "$USWAP" status --json | grep -q "\\"pid\\" : $U" && echo "status still lists it"
            echo done
            """)
        #expect(run.output.contains("listed while running"), "\(run.output)")
        #expect(run.output.contains("uswap exit 137"), "\(run.output)")
        #expect(!run.output.contains("left behind"), "\(run.output)")
        #expect(!run.output.contains("status still lists it"), "\(run.output)")
        #expect(run.output.contains("done"))
    }

    @Test func sigkillToUswapEndsTheProgramWithinASecond() async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let run = try await Self.shell(uswap, Self.startBusy + """

            kill -KILL "$U"
            start=$(date +%s%N)
            while kill -0 "$P" 2>/dev/null && [ -z "$(awk '$3 == "Z"' /proc/$P/stat 2>/dev/null)" ]; do
              [ $(( ($(date +%s%N) - start) / 1000000 )) -gt 5000 ] && break
              sleep 0.01
            done
            gone_ms=$(( ($(date +%s%N) - start) / 1000000 ))
            kill -0 "$P" 2>/dev/null && ! grep -q " Z " /proc/$P/stat 2>/dev/null && echo "program still alive"
            echo "gone after $gone_ms ms"
            grep -q "@uswap-run.$U" /proc/net/unix && echo "socket left behind"
            "$USWAP" status --json | grep -q "\\"pid\\" : $U" && echo "status still lists it"
            echo done
            """)
        #expect(!run.output.contains("still alive"), "\(run.output)")
        let milliseconds = run.output.split(separator: "\n").first { $0.hasPrefix("gone after") }
            .flatMap { Int($0.split(separator: " ")[2]) }
        #expect((milliseconds ?? .max) < 1000, "\(run.output)")
        #expect(!run.output.contains("left behind"), "\(run.output)")
        #expect(!run.output.contains("status still lists it"), "\(run.output)")
    }

    @Test func sigtermSentToUswapReachesTheProgramOnceAndItsStatusComesBack() async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let run = try await Self.shell(uswap, Self.startBusy + """

            kill -TERM "$U"
            wait "$U"; echo "uswap exit $?"
            """)
        #expect(run.output.contains("uswap exit 143"), "\(run.output)")
    }

    @Test func statusListsARunningProgramWithItsFigures() async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let run = try await Self.shell(uswap, Self.startBusy + """

            "$USWAP" status --json > "$WORK/status.json"
            "$USWAP" status
            kill -KILL "$P"; wait "$U"
            cat "$WORK/status.json"
            """)
        #expect(run.output.contains("\"resident_limit_bytes\" : 4194304"), "\(run.output)")
        #expect(run.output.contains("RESIDENT"), "\(run.output)")
        #expect(run.output.contains("busy"), "\(run.output)")
    }
}
