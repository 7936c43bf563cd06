import ArgumentParser
import FoundationEssentials
import PageCodecs
import ProcessPager
import SecondTier
import Swap
import Synchronization
import SystemSupport

/// A byte count on the command line: `268435456`, `256K`, `80M`, `2G` (binary units; `MiB` and
/// `MB` are read as `M`).
struct ByteCount: ExpressibleByArgument, Sendable, Equatable {
    /// The bytes.
    var bytes: Int

    init(bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        var text = argument.uppercased()
        for suffix in ["IB", "B"] where text.hasSuffix(suffix) && text.count > suffix.count { text.removeLast(suffix.count) }
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var multiplier = 1
        if let last = text.last, let unit = units[last] {
            multiplier = unit
            text.removeLast()
        }
        guard let value = Int(text), value > 0 else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        bytes = product
    }
}

/// The program's pid while it runs (0 before and after), for the signal handler.
private let runningChild = Atomic<Int32>(0)

/// `uswap run -- CMD`: any program, unchanged, with its memory capped and its cold pages
/// compressed by uswap, which stays its parent.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a program with its resident memory capped; its cold pages are compressed in uswap.",
        discussion: """
            The program runs unchanged as uswap's child. libuswap-agent.so (built with uswap) and \
            Debian's libmimalloc.so.2 are preloaded into it and into every program it starts; \
            uswap serves its page faults and moves cold pages out into compressed storage so \
            that the whole process tree keeps at most --resident of anonymous memory in RAM, \
            as a memory cgroup's limit would. Needs a userfaultfd that serves faults inside \
            system calls: root, CAP_SYS_PTRACE, access to /dev/userfaultfd, or \
            vm.unprivileged_userfaultfd=1. Exits with the program's status (128+N when signal N \
            ended it). See docs/RUN.md for what is and is not managed.
            """)

    @Option(help: "Resident limit of the program's process tree (bytes, or with K, M, G).")
    var resident: ByteCount = ByteCount(bytes: 256 << 20)

    @Option(help: "Where cold pages go: zram (in-process zram devices, writing back to --writeback or --tier if given), zswap (a compressed cache writing back to --tier) or zswap:FILE (a compressed cache in front of FILE, created and removed by uswap).")
    var backend: String = "zram"

    @Option(help: "With --backend zram: a file that idle compressed pages are written back to once the pools reach 20% of RAM (created and removed by uswap).")
    var writeback: String?

    @Option(name: .customLong("pool-limit"), help: "The compressed pool's limit (bytes, or with K, M, G): zswap's, or where zram starts writing back to --writeback or --tier (default: 20% of RAM).")
    var poolLimit: ByteCount?

    @OptionGroup var tierOptions: TierOptions

    @Flag(help: "Replace a regular file that holds data at the --tier FILE path (never a link, a directory or a device).")
    var force = false

    @Option(help: "Compressor: lz4, zstd or zstd-N.")
    var codec: String = "lz4"

    @Option(help: "When a swapped-in page's compressed copy is freed: free-on-swapin or lazy.")
    var policy: String = SlotPolicy.freeOnSwapIn.rawValue

    @Option(help: "Write a JSON report of the run to FILE.")
    var report: String?

    @Flag(help: "No report on stderr at the end.")
    var quiet = false

    @Flag(name: .customLong("vs-kernel"), help: "Then run the command again in a memory cgroup with the same limit and zram0 (lz4, page-cluster 0) as its only swap, and report both side by side (root; zram0 unused; no other swap). The machine is put back afterwards.")
    var vsKernel = false

    @Option(help: "The allocator to preload (default: libmimalloc.so.2 where installed; none: keep glibc's malloc, whose heap is then not managed).")
    var allocator: String?

    @Flag(name: .customLong("no-charge-unmanaged"), help: "Do not count anonymous memory uswap does not manage (stacks, early mappings) against --resident.")
    var noChargeUnmanaged = false

    @Flag(name: .customLong("keep-file-cache"), help: "Leave the page cache of files the program streams through alone (by default, pages more than 1 MiB behind one of its file positions are dropped, as a memory cgroup at its limit reclaims them first).")
    var keepFileCache = false

    @Argument(parsing: .captureForPassthrough, help: "The program and its arguments (after --).")
    var command: [String] = []

    @Option(name: .customLong("agent-flags"), help: .hidden)
    var agentFlags: UInt32 = 0

    @Option(name: .customLong("spin-us"), help: .hidden)
    var spinMicroseconds: Int?

    @Option(name: .customLong("compact-waste-percent"), help: .hidden)
    var compactWastePercent: Int?

    @Option(name: .customLong("refault-laps"), help: .hidden)
    var refaultLaps: Int?

    @Option(name: .customLong("reserve-divisor"), help: .hidden)
    var reserveDivisor: Int?

    @Flag(name: .customLong("flat-refault-heat"), help: .hidden)
    var flatRefaultHeat = false

    /// The command without a leading `--`.
    var program: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

    func validate() throws {
        guard !program.isEmpty else { throw ValidationError("give the program to run after --, e.g. uswap run --resident 256M -- python3 job.py") }
        guard PagerBackend(argument: backend) != nil else { throw ValidationError("--backend must be zram, zswap (with --tier) or zswap:FILE") }
        // The store's settings as the pager will check them: --tier with zswap:FILE or with
        // --writeback, zswap without --tier, and the like are refused before anything starts.
        if let problem = try configuration().problem { throw ValidationError(problem) }
        guard PageCodecFactory(name: codec) != nil else { throw ValidationError("--codec must be lz4, zstd or zstd-N") }
        guard let chosen = SlotPolicy(rawValue: policy), chosen != .adaptive else {
            throw ValidationError("--policy must be free-on-swapin or lazy")
        }
    }

    /// The pager's configuration from the options.
    func configuration() throws -> PagerConfiguration {
        var configuration = PagerConfiguration(residentLimitBytes: resident.bytes)
        configuration.backend = PagerBackend(argument: backend) ?? .zram
        configuration.writebackPath = writeback
        if let poolLimit { configuration.writebackPoolLimit = .bytes(poolLimit.bytes) }
        configuration.codec = PageCodecFactory(name: codec) ?? .lz4
        configuration.policy = SlotPolicy(rawValue: policy) ?? .freeOnSwapIn
        configuration.chargesUnmanagedMemory = !noChargeUnmanaged
        configuration.trimsStreamCache = !keepFileCache
        if let spinMicroseconds { configuration.spinMicroseconds = spinMicroseconds }
        if let compactWastePercent { configuration.compactWastePercent = compactWastePercent }
        if let refaultLaps { configuration.refaultLaps = refaultLaps }
        if flatRefaultHeat { configuration.gradesRefaultHeat = false }
        if let reserveDivisor { configuration.reserveDivisor = reserveDivisor }
        do { configuration.tier = try tierOptions.spec } catch { throw ValidationError("\(error)") }
        configuration.tierReplicas = tierOptions.replicas
        configuration.tierLeaseTTLMilliseconds = tierOptions.leaseTTL
        configuration.encryptTier = tierOptions.encrypt
        configuration.replaceExistingTierFile = force
        return configuration
    }

    func run() throws {
        let configuration = try configuration()
        let files: AgentFiles
        let pager: ProcessPager
        do {
            files = try AgentFiles.locate(allocator: allocator)
            pager = try ProcessPager(configuration)
            try pager.start()
        } catch {
            StandardError.line("uswap run: \(error)")
            throw ExitCode(125)
        }
        if files.allocator == nil && allocator != "none" {
            StandardError.line("uswap run: warning: libmimalloc.so.2 not found (apt-get install libmimalloc2.0): glibc malloc's heap will not be managed")
        }
        let status = try RunSession(program: program, pager: pager, files: files, flags: AgentFlags(rawValue: agentFlags), reportWanted: report != nil || vsKernel).run()
        // Stops the pager's threads and closes the second tier (a cluster's keys are deleted).
        pager.stop()
        for problem in pager.tierCloseProblems { StandardError.line("uswap run: closing the second tier: \(problem)") }
        let statistics = pager.statistics
        let figures = pager.figures
        let own = SystemSupport.ResourceUsage.now(.process).cpuSeconds
        let summary = RunReport(
            command: program, exitStatus: Int(status.exitStatus), wallSeconds: status.wallSeconds,
            programCpuSeconds: status.programCpuSeconds, pagerCpuSeconds: own, configuration: configuration,
            statistics: statistics, figures: figures, stdoutSha256: status.stdoutSha256 ?? "",
            kernel: vsKernel
                ? KernelComparison.run(program: program, limitBytes: resident.bytes, ours: status.stdoutSha256)
                : .init(unavailable: "--vs-kernel was not given"),
            tier: pager.tierFigures)
        if let report {
            do { try Self.write(summary, to: report) } catch { StandardError.line("uswap run: cannot write the report to \(report): \(error)") }
        }
        if !quiet {
            StandardError.write(Self.humanReport(summary, statistics: statistics))
            if vsKernel { StandardError.write(KernelComparison.humanLines(ours: summary, kernel: summary.kernel).joined(separator: "\n") + "\n") }
        }
        throw ExitCode(status.exitStatus)
    }

    static func write(_ report: RunReport, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var data = try encoder.encode(report)
        data.append(0x0A)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemCall.lastError }
        defer { close(fd) }
        try data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = try SystemCall.retrying { Platform.write(fd, raw.baseAddress! + done, raw.count - done) }
                done += n
            }
        }
    }

    /// The short report on stderr.
    static func humanReport(_ r: RunReport, statistics s: PagerStatistics) -> String {
        func mib(_ bytes: Int) -> String { String(format1(Double(bytes) / 1_048_576)) + " MiB" }
        let ended = r.exitStatus > 128 ? "ended by signal \(r.exitStatus - 128)" : "exited with status \(r.exitStatus)"
        var lines = ["uswap run: \(r.command.joined(separator: " ")) \(ended) after \(format1(r.wallSeconds)) s"]
        lines.append("  CPU \(format1(r.cpuSeconds)) s (program \(format1(r.programCpuSeconds)) s, uswap \(format1(r.pagerCpuSeconds)) s)")
        lines.append("  resident max \(mib(r.residentMaxBytes)) of \(mib(r.residentLimitBytes)); unmanaged anonymous max \(mib(r.unmanagedAnonMaxBytes)); memory max \(mib(r.memoryMaxBytes))")
        let ratio = s.compressionRatio > 0 ? ", ratio \(format2(s.compressionRatio))" : ""
        lines.append("  pool max \(mib(r.poolMaxBytes)) (\(r.backend) \(r.codec)\(ratio)); swap-ins \(r.swapIns), swap-outs \(r.swapOuts), most out at once \(mib(r.swappedMaxBytes))")
        lines.append("  fault service p50 \(format1(r.p50Us)) us, p99 \(format1(r.p99Us)) us (\(s.latencySamples) faults)")
        if s.fileCacheDroppedBytes > 0 {
            lines.append("  page cache dropped behind the program's file positions: \(mib(s.fileCacheDroppedBytes))")
        }
        if let tier = r.tier {
            lines.append("  second tier \(tier.name): \(tier.writtenBack) pages written back, \(tier.tierReads) tier reads, \(tier.refusedWrites) writes refused, \(tier.failedReads) failed reads")
        }
        if s.capOverrides > 0 || s.lostPages > 0 || s.failedReads > 0 {
            lines.append("  note: \(s.capOverrides) times over the cap (nothing evictable), \(s.lostPages) pages lost in unannounced forks, \(s.failedReads) failed reads")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func format1(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }

    static func format2(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = abs(hundredths % 100)
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}

/// How one run of the program ended.
struct RunOutcome {
    var exitStatus: Int32
    var wallSeconds: Double
    var programCpuSeconds: Double
    var stdoutSha256: String?
}

/// Starts the program under the pager, forwards signals, samples the tree, relays and hashes
/// its standard output when a report wants the digest, and waits for it.
struct RunSession {
    let program: [String]
    let pager: ProcessPager
    let files: AgentFiles
    let flags: AgentFlags
    let reportWanted: Bool

    /// Signals sent to uswap that it passes to the program.
    static let forwarded: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]

    func run() throws -> RunOutcome {
        let handled = Self.installForwarding()
        var environment = ProgramLauncher.currentEnvironment()
        let preload = files.preload(existing: ProgramLauncher.value(of: "LD_PRELOAD", in: environment))
        environment = ProgramLauncher.environment(
            environment, updating: ["LD_PRELOAD": preload, "USWAP_AGENT": pager.agentEnvironmentValue(flags: flags)])

        // The digest of stdout: read back from a regular file, or relayed through a pipe.
        var relay: (read: Int32, write: Int32)? = nil
        var fileStart: Int? = nil
        if reportWanted {
            var info = stat()
            if fstat(1, &info) == 0 && info.st_mode & S_IFMT == S_IFREG {
                fileStart = Int(lseek(1, 0, SEEK_CUR))
            } else {
                var ends: [Int32] = [-1, -1]
                if pipe(&ends) == 0 {
                    for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
                    relay = (ends[0], ends[1])
                }
            }
        }
        let status = Self.makeStatus(program: program, pager: pager)
        pager.setStatusProvider(status)
        let started = SystemSupport.MonotonicClock.seconds()
        let pid: pid_t
        do {
            pid = try ProgramLauncher.spawn(program, environment: environment, standardOutput: relay?.write, defaultSignals: handled)
        } catch {
            StandardError.line("uswap run: \(error)")
            if let relay { close(relay.read); close(relay.write) }
            throw ExitCode(127)
        }
        runningChild.store(pid, ordering: .releasing)
        StatusClock.shared.start(child: pid)
        if let relay { close(relay.write) }
        var digest = SHA256()
        var waitStatus: Int32 = 0
        var usage = rusage()
        let pidfd = ProgramLauncher.processDescriptor(pid)
        let interval = Int32(pager.configuration.sampleIntervalMilliseconds)
        var nextSample = SystemSupport.MonotonicClock.nanoseconds()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            var fds = [pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)]
            if let relay { fds.append(pollfd(fd: relay.read, events: Int16(POLLIN), revents: 0)) }
            let wait = max(0, Int32((nextSample - SystemSupport.MonotonicClock.nanoseconds()) / 1_000_000))
            _ = poll(&fds, nfds_t(fds.count), pidfd >= 0 ? wait : min(wait, 10))
            if let relay, fds.count > 1, fds[1].revents != 0 { Self.pump(relay.read, into: &digest, buffer: &chunk) }
            if SystemSupport.MonotonicClock.nanoseconds() >= nextSample {
                pager.sample()
                StatusClock.shared.note(pager.statistics)
                nextSample = SystemSupport.MonotonicClock.nanoseconds() + Int(interval) * 1_000_000
            }
            let done = wait4(pid, &waitStatus, WNOHANG, &usage)
            if done == pid { break }
            if done < 0 && errno != EINTR { break }
        }
        let wall = SystemSupport.MonotonicClock.seconds() - started
        runningChild.store(0, ordering: .releasing)
        if pidfd >= 0 { close(pidfd) }
        pager.sample()
        if let relay {
            _ = fcntl(relay.read, F_SETFL, O_NONBLOCK)
            Self.pump(relay.read, into: &digest, buffer: &chunk)
            close(relay.read)
        }
        var hash: String? = nil
        if relay != nil {
            hash = digest.finalizeHex()
        } else if let fileStart {
            hash = Self.digestOfStdoutFile(from: fileStart)
        }
        return RunOutcome(
            exitStatus: Self.exitStatus(waitStatus), wallSeconds: wall, programCpuSeconds: Self.cpuSeconds(usage), stdoutSha256: hash)
    }

    /// A wait status as a shell reports it: the exit code, or 128+N for signal N.
    static func exitStatus(_ waitStatus: Int32) -> Int32 {
        waitStatus & 0x7F == 0 ? (waitStatus >> 8) & 0xFF : 128 + (waitStatus & 0x7F)
    }

    /// User plus system time of a rusage.
    static func cpuSeconds(_ usage: rusage) -> Double {
        Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6
    }

    /// Copies what the program wrote into the relay pipe to uswap's stdout, hashing it.
    static func pump(_ fd: Int32, into digest: inout SHA256, buffer: inout [UInt8]) {
        while true {
            let n = buffer.withUnsafeMutableBytes { Platform.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            buffer.withUnsafeBytes { raw in
                let bytes = UnsafeRawBufferPointer(rebasing: raw[..<n])
                digest.update(bytes)
                var done = 0
                while done < n {
                    let w = Platform.write(1, bytes.baseAddress! + done, n - done)
                    if w < 0 && errno == EINTR { continue }
                    guard w > 0 else { break }
                    done += w
                }
            }
            if n < buffer.count { return }
        }
    }

    /// SHA-256 of stdout's file from `start` to its end (stdout was a regular file).
    static func digestOfStdoutFile(from start: Int) -> String? {
        let fd = open("/proc/self/fd/1", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var digest = SHA256()
        var buffer = [UInt8](repeating: 0, count: 65536)
        var offset = start
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            buffer.withUnsafeBytes { digest.update(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
            offset += n
        }
        return digest.finalizeHex()
    }

    /// Installs the forwarding handlers; returns the signals handled (a signal ignored when uswap
    /// started, as under nohup, stays ignored for the program too).
    static func installForwarding() -> [Int32] {
        var handled: [Int32] = []
        for signalNumber in forwarded {
            var previous = sigaction()
            sigaction(signalNumber, nil, &previous)
            if unsafeBitCast(previous.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }
            var action = sigaction()
            action.__sigaction_handler.sa_sigaction = { signalNumber, info, _ in
                // A signal from the terminal (Ctrl-C, si_code SI_KERNEL) reached the whole
                // foreground process group, the program included: passing it on would double it.
                // One sent to uswap with kill(2) (si_code <= 0) is passed on once.
                guard let info, info.pointee.si_code <= 0 else { return }
                let child = runningChild.load(ordering: .acquiring)
                if child > 0 { kill(child, signalNumber) }
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_SIGINFO | SA_RESTART
            sigaction(signalNumber, &action, nil)
            handled.append(signalNumber)
        }
        return handled
    }

    /// The status text `uswap status` gets from this run.
    static func makeStatus(program: [String], pager: ProcessPager) -> @Sendable () -> String {
        let limit = pager.configuration.residentLimitBytes
        return {
            let s = pager.statistics
            let clock = StatusClock.shared.snapshot()
            let entry = RunStatusEntry(
                pid: Int(getpid()), programPid: Int(clock.child), command: program, residentBytes: s.residentPages * 4096,
                residentLimitBytes: limit, poolBytes: s.memUsedTotal, ratio: s.compressionRatio, swapIns: s.swapIns,
                swapOuts: s.swapOuts, swapInsPerSecond: clock.swapInsPerSecond, processes: s.sessionsLive,
                uptimeSeconds: clock.uptime)
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            guard let data = try? encoder.encode(entry) else { return "{}" }
            return String(decoding: data, as: UTF8.self)
        }
    }
}

/// The run's start and its swap-in rate between the last two samples, for `uswap status`.
final class StatusClock: Sendable {
    static let shared = StatusClock()

    private struct State {
        var child: Int32 = 0
        var started = 0.0
        var lastTime = 0.0
        var lastSwapIns = 0
        var rate = 0.0
    }

    private let state = Mutex(State())

    func start(child: Int32) {
        state.withLock {
            $0.child = child
            $0.started = SystemSupport.MonotonicClock.seconds()
            $0.lastTime = $0.started
        }
    }

    func note(_ statistics: PagerStatistics) {
        let now = SystemSupport.MonotonicClock.seconds()
        state.withLock { s in
            guard now - s.lastTime >= 0.5 else { return }
            s.rate = Double(statistics.swapIns - s.lastSwapIns) / (now - s.lastTime)
            s.lastSwapIns = statistics.swapIns
            s.lastTime = now
        }
    }

    func snapshot() -> (child: Int32, uptime: Double, swapInsPerSecond: Double) {
        state.withLock { ($0.child, SystemSupport.MonotonicClock.seconds() - $0.started, $0.rate) }
    }
}

/// One run as `uswap status --json` lists it.
struct RunStatusEntry: Codable, Sendable, Equatable {
    var pid: Int
    var programPid: Int
    var command: [String]
    var residentBytes: Int
    var residentLimitBytes: Int
    var poolBytes: Int
    var ratio: Double
    var swapIns: Int
    var swapOuts: Int
    var swapInsPerSecond: Double
    var processes: Int
    var uptimeSeconds: Double
}
