import KernelSwap
import ProcessPager
import SystemSupport

/// `uswap run --vs-kernel`: the same command again, in a memory cgroup with the same limit and
/// zram0 (lz4, page-cluster 0) as its only swap, measured from outside as
/// the team's krun.sh harness does: the cgroup's max usage plus zram's max pool, wall and CPU time,
/// major faults, the OOM killer, the output's digest. The machine is put back afterwards (and on
/// SIGINT/SIGTERM/SIGHUP: KernelSwapSession's cleanup, which also kills the command).
enum KernelComparison {
    /// zram0's disksize for the comparison: large enough for any program this machine can hold.
    static let disksizeBytes = 8 << 30

    /// Runs `program` under the kernel's compressed swap with `limitBytes`; its standard output
    /// is hashed, not shown. `ours` is the digest of uswap's run, compared with the kernel's.
    static func run(program: [String], limitBytes: Int, ours: String?) -> RunReport.KernelSide {
        let session: KernelSwapSession
        do {
            session = try KernelSwapSession.start(sizeBytes: disksizeBytes, limitBytes: limitBytes, backing: .zram)
        } catch {
            return .init(unavailable: error.description)
        }
        let measured = measure(program: program, session: session)
        var restored = true
        do { try session.restore() } catch {
            StandardError.line("uswap run --vs-kernel: \(error)")
            restored = false
        }
        switch measured {
        case .failure(let reason):
            return .init(unavailable: reason)
        case .success(var side):
            side.restored = restored
            side.outputsIdentical = ours != nil && side.stdoutSha256 == ours
            return side
        }
    }

    private enum Outcome {
        case success(RunReport.KernelSide)
        case failure(String)
    }

    /// Starts the command through `sh`, which joins the cgroup before it execs the command (so
    /// every page it touches is charged), hashes its output, waits, and reads the figures.
    private static func measure(program: [String], session: KernelSwapSession) -> Outcome {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return .failure("pipe: \(SystemCall.lastError)") }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let wrapper = ["/bin/sh", "-c", "echo $$ > \"$0\" && exec \"$@\"", session.cgroup.procsPath] + program
        let started = MonotonicClock.seconds()
        let pid: pid_t
        do {
            pid = try ProgramLauncher.spawn(
                wrapper, environment: ProgramLauncher.currentEnvironment(), standardOutput: ends[1],
                defaultSignals: SignalCleanup.signals)
        } catch {
            close(ends[0])
            close(ends[1])
            return .failure("the kernel's run could not start: \(error)")
        }
        close(ends[1])
        let killToken = SignalCleanup.shared.register("kernel-side command \(pid)") {
            kill(pid, SIGKILL)
        }
        var digest = SHA256()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Platform.read(ends[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            buffer.withUnsafeBytes { digest.update(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
        }
        close(ends[0])
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let wall = MonotonicClock.seconds() - started
        _ = SignalCleanup.shared.cancel(killToken)
        let exit = Int(RunSession.exitStatus(status))
        let cpu = RunSession.cpuSeconds(usage)
        let cgroupMax = (try? ProcFile.readValue("\(session.cgroup.path)/memory.max_usage_in_bytes")).flatMap { Int($0) } ?? 0
        let oomKills = (try? ProcFile.read("\(session.cgroup.path)/memory.oom_control")).flatMap(oomKillCount) ?? 0
        let zramMax = (try? session.zram?.device.mmStat())?.memUsedMax ?? 0
        return .success(
            .init(
                exitStatus: exit, wallSeconds: wall, cpuSeconds: cpu, cgroupMaxUsageBytes: cgroupMax, zramMemUsedMaxBytes: zramMax,
                majorFaults: Int(usage.ru_majflt), oomKilled: oomKills > 0 && exit != 0, stdoutSha256: digest.finalizeHex(),
                outputsIdentical: false, restored: false))
    }

    /// The `oom_kill N` line of a cgroup v1 memory.oom_control.
    static func oomKillCount(_ text: String) -> Int? {
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, fields[0] == "oom_kill" { return Int(fields[1]) }
        }
        return nil
    }

    /// The side-by-side lines of the human report.
    static func humanLines(ours r: RunReport, kernel k: RunReport.KernelSide) -> [String] {
        func mib(_ bytes: Int) -> String { Run.format1(Double(bytes) / 1_048_576) + " MiB" }
        guard let exit = k.exitStatus, let wall = k.wallSeconds, let cpu = k.cpuSeconds, let memory = k.memoryBytes else {
            return ["  kernel: unavailable (\(k.unavailable ?? "?"))"]
        }
        let ours = r.memoryMaxBytes
        var lines = [
            "  kernel (memory cgroup \(mib(r.residentLimitBytes)) + zram0 lz4): exit \(exit)\(k.oomKilled == true ? " (OOM-killed)" : ""), \(Run.format1(wall)) s, CPU \(Run.format1(cpu)) s, memory \(mib(memory)) (cgroup max \(mib(k.cgroupMaxUsageBytes ?? 0)) + zram max \(mib(k.zramMemUsedMaxBytes ?? 0))), \(k.majorFaults ?? 0) major faults",
            "  uswap: exit \(r.exitStatus), \(Run.format1(r.wallSeconds)) s, CPU \(Run.format1(r.cpuSeconds)) s, memory \(mib(ours)) (max of tree anonymous + pool + copies), \(r.swapIns) swap-ins",
            "  outputs identical: \(k.outputsIdentical == true ? "yes" : "no")\(k.restored == false ? "; the machine was NOT fully restored (see above)" : "")",
        ]
        if exit == 0, wall > 0, memory > 0 {
            lines.append("  uswap/kernel: time \(Run.format2(r.wallSeconds / wall))x, memory \(Run.format2(Double(ours) / Double(memory)))x")
        }
        return lines
    }
}
