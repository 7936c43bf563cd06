import ArgumentParser
import Benchmarks
import FoundationEssentials
@_spi(SoakPlant) import PageStore
import Soak
import SystemSupport

/// `uswap soak`: swap regions on every backend (zram, zswap + file, zram writeback), slot
/// policy and fault mode, under injected file faults, checked against a model, for a while.
///
/// By default the rounds run in a worker process (this executable with `--worker`) under a
/// supervisor that survives it: a bug that crashes a round is counted, named and the soak goes
/// on. Progress goes to stderr every few seconds; the report (or, with `--json`, one JSON
/// object) to stdout. Exits 1 on any mismatch, leak or crash.
struct Soak: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Soak swap regions on every backend, policy and mode under injected faults, checked against a model.",
        discussion: """
            Each round draws a backend, slot policy, fault mode, file-read mode, resident limit and \
            fault schedule (EIO, short reads, corrupt blocks, ENOSPC, slow I/O) from the seed, runs \
            worker threads writing and checking their pages with snapshots, prefaults and sweeps \
            while the backend writes back and compacts, checks that permanent read faults fail \
            without freeing anything, then compares every page with the model and checks that \
            pool bytes, slots, descriptors, threads, mappings and RSS are back to the baseline. \
            One round in five is a SIGBUS round in a child process. See docs/SOAK.md.
            """)

    @Option(help: "How long to run: seconds, or a number with s, m or h (90, 30m, 1h).")
    var duration: SoakDuration = SoakDuration(seconds: 60)

    @Option(help: "The seed every round's plan is drawn from (default: from the clock; printed).")
    var seed: UInt64?

    @Option(help: "Worker threads per round.")
    var threads = 3

    @Flag(help: "Print exactly one JSON object on stdout.")
    var json = false

    @Option(help: "Where the rounds' backing files go (each is removed when its round ends).")
    var dir = "/var/tmp"

    @Flag(name: .customLong("stop-on-mismatch"), help: "Stop at the first mismatch.")
    var stopOnMismatch = false

    @Option(help: "Run only this round of the seed, in this process (to replay a failure).")
    var round: Int?

    @Option(
        help: ArgumentHelp(
            "Debug builds: plant a bug the soak must find: skipped-checksum, dropped-write or slot-freed-early (repeatable).",
            visibility: .hidden))
    var plant: [String] = []

    @Flag(name: .customLong("in-process"), help: "Run the rounds in this process, without a supervising process.")
    var inProcess = false

    @Flag(help: .hidden)
    var worker = false

    @Option(name: .customLong("first-round"), help: .hidden)
    var firstRound = 0

    @Flag(name: .customLong("sigbus-round"), help: .hidden)
    var sigbusRound = false

    /// The environment variable that carries planted bugs to workers and children.
    static let plantVariable = "USWAP_SOAK_PLANT"

    func validate() throws {
        guard (1...16).contains(threads) else { throw ValidationError("--threads must be 1...16") }
        for name in plant where Self.plantNames.contains(name) == false {
            throw ValidationError("--plant \(name): give one of \(Self.plantNames.joined(separator: ", "))")
        }
        #if !DEBUG
        if !plant.isEmpty { throw ValidationError("--plant works only in debug builds (swift build, not -c release)") }
        #endif
    }

    /// The names `--plant` takes.
    static var plantNames: [String] {
        #if DEBUG
        PlantedBug.allCases.map(\.rawValue)
        #else
        ["skipped-checksum", "dropped-write", "slot-freed-early"]
        #endif
    }

    func run() throws {
        try plantFromEnvironment()
        let seed = seed ?? UInt64(MonotonicClock.nanoseconds() & 0xFFFF_FFFF)
        if sigbusRound {
            throw ExitCode(SoakSigbusRound.runChild(seed: seed, index: round ?? 0, directory: dir))
        }
        var options = SoakOptions(duration: duration.seconds, seed: seed, threads: threads)
        options.directory = dir
        options.stopOnFirstMismatch = stopOnMismatch
        options.onlyRound = round
        options.firstRound = firstRound
        let executable = Self.executablePath()
        if round == nil { options.sigbusChild = SoakChildCommand(executable: executable, arguments: ["soak", "--sigbus-round"]) }
        if worker { return try runWorker(options) }

        let startLoad = Self.loadAverage()
        let start = MonotonicClock.seconds()
        let totals: SoakTotals
        if inProcess || round != nil {
            totals = try runInProcess(options)
        } else {
            totals = try supervise(options, executable: executable)
        }
        let report = SoakReport(
            seed: seed, durationSeconds: duration.seconds, elapsedSeconds: MonotonicClock.seconds() - start, threads: threads,
            loadAverageStart: startLoad, loadAverageEnd: Self.loadAverage(), planted: plant, totals: totals)
        if json {
            print(try JSONOutput.render(report))
        } else {
            print(report.text)
        }
        if !report.passed { throw ExitCode(1) }
    }

    /// Plants the bugs named in ``plantVariable`` (set by a supervisor for its workers and
    /// their children) and in `--plant`.
    private func plantFromEnvironment() throws {
        let inherited = (ProcessInfo.processInfo.environment[Self.plantVariable] ?? "").split(separator: ",").map(String.init)
        let names = plant + inherited
        guard !names.isEmpty else { return }
        #if DEBUG
        for name in names {
            guard let bug = PlantedBug(rawValue: name) else { throw ValidationError("planted bug \(name) is unknown") }
            PlantedBug.plant(bug)
        }
        #else
        throw ValidationError("planted bugs work only in debug builds")
        #endif
    }

    /// This executable's path (`/proc/self/exe`).
    static func executablePath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// The 1-minute load average, or nil.
    static func loadAverage() -> Double? {
        (try? ProcFile.read("/proc/loadavg"))?.split(separator: " ").first.flatMap { Double($0) }
    }

    /// `--worker`: the engine in this process, its events as wire lines on stdout.
    private func runWorker(_ options: SoakOptions) throws {
        let engine: SoakEngine
        do { engine = try SoakEngine(options: options) } catch {
            StandardError.line("uswap soak: \(error)")
            throw ExitCode(2)
        }
        let totals: SoakTotals
        do {
            totals = try engine.run(
                onRoundStart: { SoakWire.writeLine(SoakWire.roundLine($0)) },
                onMismatch: { SoakWire.writeLine(SoakWire.mismatchLine($0)) },
                onRoundEnd: { SoakWire.writeLine(SoakWire.totalsLine($0)) })
        } catch {
            StandardError.line("uswap soak: \(error)")
            throw ExitCode(2)
        }
        if totals.mismatches > 0 || totals.leaks > 0 { throw ExitCode(1) }
    }

    /// `--in-process` and `--round`: the engine here, progress on stderr.
    private func runInProcess(_ options: SoakOptions) throws -> SoakTotals {
        let engine: SoakEngine
        do { engine = try SoakEngine(options: options) } catch {
            throw ValidationError("\(error)")
        }
        let progress = SoakProgress(duration: options.duration)
        var reported = 0  // leak details already printed
        do {
            return try engine.run(
                onRoundStart: { if options.onlyRound != nil { StandardError.line("soak: \($0)") } },
                onMismatch: { StandardError.line("soak: MISMATCH \($0)") },
                onRoundEnd: { totals in
                    for text in totals.leakDetails.dropFirst(reported) { StandardError.line("soak: LEAK \(text)") }
                    reported = totals.leakDetails.count
                    progress.update(totals)
                })
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// The default: workers under a supervisor.
    private func supervise(_ options: SoakOptions, executable: String) throws -> SoakTotals {
        let (seed, threads, dir, stop) = (options.seed, options.threads, options.directory, options.stopOnFirstMismatch)
        var supervisor = SoakSupervisor(executable: executable) { first, seconds in
            ["soak", "--worker", "--seed", "\(seed)", "--threads", "\(threads)", "--dir", dir, "--first-round", "\(first)",
             "--duration", "\(seconds)"] + (stop ? ["--stop-on-mismatch"] : [])
        }
        if !plant.isEmpty { supervisor.environment[Self.plantVariable] = plant.joined(separator: ",") }
        let progress = SoakProgress(duration: options.duration)
        // Progress: the workers that ended (crashed) plus the current one's totals so far.
        var finished = SoakTotals()
        var current = SoakTotals()
        do {
            return try supervisor.run(
                duration: options.duration, firstRound: options.firstRound, stopOnFirstMismatch: stop,
                onEvent: { event in
                    switch event {
                    case .mismatch(let text): StandardError.line("soak: MISMATCH \(text)")
                    case .totals(let worker):
                        // Leaks travel only in the totals lines: print the new ones as they come.
                        for text in worker.leakDetails.dropFirst(current.leakDetails.count) { StandardError.line("soak: LEAK \(text)") }
                        current = worker
                        var sum = finished
                        sum.add(worker)
                        progress.update(sum)
                    case .round: break
                    }
                },
                onCrash: { text in
                    StandardError.line("soak: CRASH \(text)")
                    finished.add(current)
                    finished.crashes += 1
                    current = SoakTotals()
                })
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

/// A duration given as seconds or with a unit: `90`, `90s`, `30m`, `1h`.
struct SoakDuration: ExpressibleByArgument, Sendable {
    /// The duration in seconds.
    var seconds: Double

    /// `seconds` seconds.
    init(seconds: Double) { self.seconds = seconds }

    /// Parses `90`, `90s`, `30m`, `1.5h`.
    init?(argument: String) {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
        var text = Substring(argument)
        var factor = 1.0
        if let last = text.last, let unit = units[last] {
            factor = unit
            text = text.dropLast()
        }
        guard let value = Double(text), value >= 0, value.isFinite else { return nil }
        seconds = value * factor
    }

    /// Help's default value.
    var defaultValueDescription: String { "\(Int(seconds))s" }
}

/// Progress of a soak on stderr, every five seconds at most.
///
/// Safety of `@unchecked Sendable`: updated from the one thread that runs the soak.
final class SoakProgress: @unchecked Sendable {
    private let duration: Double
    private let start = MonotonicClock.seconds()
    private var last = -Double.infinity

    /// Progress of a soak of `duration` seconds.
    init(duration: Double) { self.duration = duration }

    /// Prints `totals` if five seconds passed since the last line.
    func update(_ totals: SoakTotals) {
        let now = MonotonicClock.seconds()
        guard now - last >= 5 else { return }
        last = now
        StandardError.line("soak: \(Int(now - start))/\(Int(duration)) s: \(totals.summary)")
    }
}

/// What `uswap soak` reports.
struct SoakReport: Encodable {
    /// The seed.
    var seed: UInt64
    /// The duration asked for.
    var durationSeconds: Double
    /// The time it took.
    var elapsedSeconds: Double
    /// Worker threads per round.
    var threads: Int
    /// The 1-minute load average before and after.
    var loadAverageStart: Double?
    /// After.
    var loadAverageEnd: Double?
    /// Bugs planted (debug builds).
    var planted: [String]
    /// What the rounds did and found.
    var totals: SoakTotals

    /// No mismatch, no leak, no crash.
    var passed: Bool { totals.mismatches == 0 && totals.leaks == 0 && totals.crashes == 0 }

    enum CodingKeys: String, CodingKey {
        case seed, threads, planted, totals, passed
        case durationSeconds = "duration_s"
        case elapsedSeconds = "elapsed_s"
        case loadAverageStart = "load_average_start"
        case loadAverageEnd = "load_average_end"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(seed, forKey: .seed)
        try container.encode(threads, forKey: .threads)
        try container.encode(planted, forKey: .planted)
        try container.encode(totals, forKey: .totals)
        try container.encode(passed, forKey: .passed)
        try container.encode(durationSeconds, forKey: .durationSeconds)
        try container.encode(elapsedSeconds, forKey: .elapsedSeconds)
        try container.encode(Nullable(loadAverageStart), forKey: .loadAverageStart)
        try container.encode(Nullable(loadAverageEnd), forKey: .loadAverageEnd)
    }

    /// The human report.
    var text: String {
        let t = totals
        let f = t.footprint
        var lines = [
            "uswap soak: seed \(seed), \(threads) threads a round, \(Int(elapsedSeconds)) s"
                + (planted.isEmpty ? "" : ", planted: \(planted.joined(separator: ", "))"),
            "  load average: \(loadAverageStart.map { String($0) } ?? "?") at the start, \(loadAverageEnd.map { String($0) } ?? "?") at the end",
            "  rounds: \(t.rounds) (" + t.roundsByBackend.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                + "), SIGBUS rounds in a child: \(t.sigbusRounds)",
            "  operations: \(t.operations), page checks: \(t.pageChecks), snapshots: \(t.snapshots)",
            "  swap-ins: \(t.swapIns), swap-outs: \(t.swapOuts)",
            "  faults injected: \(t.faultsInjected) (reads \(t.readFaultsInjected), writes \(t.writeFaultsInjected), slow calls \(t.delaysInjected))",
            "  absorbed: \(t.readRetries) read retries, \(t.absorbedSnapshotErrors) snapshot errors, \(t.typedErrors) typed backend errors",
            "  permanent read faults checked: \(t.permanentChecks) in process, \(t.sigbusRounds) by SIGBUS",
            "  copies kept by missed free notifications (miss_free, zram and the frontswap cache), freed at teardown: \(t.missedFreeCopies)",
            "  footprint after teardown vs baseline (\(f.samples) rounds): descriptors +\(f.maxDescriptorDelta), threads +\(f.maxThreadDelta), "
                + "mappings +\(f.maxMappingDelta), RSS max +\(f.maxRSSDeltaKiB) KiB (last +\(f.lastRSSDeltaKiB) KiB); backend leftovers \(f.leftoverBackendUnits)",
            "  mismatches: \(t.mismatches), leaks: \(t.leaks), crashes: \(t.crashes)",
        ]
        lines += t.mismatchDetails.map { "  mismatch: \($0)" }
        lines += t.leakDetails.map { "  leak: \($0)" }
        lines.append(passed ? "PASS" : "FAIL")
        return lines.joined(separator: "\n")
    }
}
