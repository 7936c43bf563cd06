import Foundation
import KernelSwap
@testable import ProcessPager
import TestSupport
import Testing

@testable import USwapCLI

@Suite struct KernelComparisonTextTests {
    @Test func theOomKillCountIsReadFromOomControl() {
        #expect(KernelComparison.oomKillCount("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n") == 3)
        #expect(KernelComparison.oomKillCount("oom_kill_disable 0\nunder_oom 0\n") == nil)
    }

    @Test(arguments: [(Int32(0), Int32(0)), (0x0100, 1), (0x7F00, 127), (9, 137), (15, 143)])
    func waitStatusesReadAsAShellShowsThem(waitStatus: Int32, status: Int32) {
        #expect(RunSession.exitStatus(waitStatus) == status)
    }

    @Test func aKernelSideThatDidNotRunSaysWhy() {
        let report = RunReport(
            command: ["x"], exitStatus: 0, wallSeconds: 1, programCpuSeconds: 1, pagerCpuSeconds: 0,
            configuration: PagerConfiguration(residentLimitBytes: 1 << 20), statistics: PagerStatistics(), figures: PagerFigures(),
            stdoutSha256: "ab", kernel: .init(unavailable: "not root"))
        #expect(KernelComparison.humanLines(ours: report, kernel: report.kernel) == ["  kernel: unavailable (not root)"])
    }

    @Test func aKernelSideThatRanComparesOutputsAndSumsItsMemory() {
        let side = RunReport.KernelSide(
            exitStatus: 0, wallSeconds: 2, cpuSeconds: 1, cgroupMaxUsageBytes: 80 << 20, zramMemUsedMaxBytes: 70 << 20,
            majorFaults: 5, oomKilled: false, stdoutSha256: "ab", outputsIdentical: true, restored: true)
        #expect(side.memoryBytes == 150 << 20)
        #expect(side.unavailable == nil)
    }
}

/// `uswap run --vs-kernel` on a small C program: the kernel's side runs in a memory cgroup with
/// zram0 and the machine is put back. Touches zram0, swap and cgroups (run under
/// `flock /tmp/uswap-kernel.lock`).
@Suite(.serialized) struct RunVsKernelTests {
    @Test func theKernelsRunIsMeasuredBesideOursAndTheMachineIsPutBack() async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        if let reason = KernelSwapSession.unavailableReason() {
            CIGate.unavailable("the kernel's side of --vs-kernel: \(reason)")
            return
        }
        let swapsBefore = try String(contentsOfFile: "/proc/swaps", encoding: .utf8)
        let pageCluster = try String(contentsOfFile: "/proc/sys/vm/page-cluster", encoding: .utf8)
        let run = try await ManagedRun.start(uswap, program: "churn", ["32"], resident: "8M", extra: ["--vs-kernel"])
        run.expectPagedCleanly(line: "churn ok", minimumSwapOuts: RunTests.pages(16))
        let kernel = try #require(run.report?.kernel)
        #expect(kernel.unavailable == nil, "\(kernel)")
        #expect(kernel.exitStatus == 0, "\(kernel)")
        #expect(kernel.outputsIdentical == true)
        #expect(kernel.stdoutSha256 == run.report?.stdoutSha256)
        #expect((kernel.cgroupMaxUsageBytes ?? 0) > 0 && (kernel.cgroupMaxUsageBytes ?? .max) <= 9 << 20, "\(kernel)")
        #expect((kernel.zramMemUsedMaxBytes ?? 0) > 0, "the kernel must have swapped to zram0: \(kernel)")
        #expect((kernel.wallSeconds ?? 0) > 0 && (kernel.cpuSeconds ?? 0) > 0)
        #expect(kernel.restored == true)
        #expect(try String(contentsOfFile: "/proc/swaps", encoding: .utf8) == swapsBefore)
        #expect(try String(contentsOfFile: "/proc/sys/vm/page-cluster", encoding: .utf8) == pageCluster)
        #expect(try String(contentsOfFile: "/sys/block/zram0/disksize", encoding: .utf8) == "0\n")
        let cgroups = (try? FileManager.default.contentsOfDirectory(atPath: MemoryCgroup.defaultRoot)) ?? []
        #expect(!cgroups.contains { $0.hasPrefix("uswap-bench-") }, "\(cgroups)")
    }
}
