import FoundationEssentials
import SystemSupport

/// The lines a soak worker process writes on its standard output for its supervisor, one
/// event a line: a round starting, a mismatch as it is found, the worker's totals after each
/// round (JSON). A worker that dies keeps what it wrote, so the supervisor knows the round it
/// died in and every mismatch it saw.
public enum SoakWire {
    /// `soak-round N PLAN`.
    public static func roundLine(_ plan: SoakRoundPlan) -> String { "soak-round \(plan.index) \(plan)" }
    /// `soak-mismatch TEXT` (newlines replaced).
    public static func mismatchLine(_ text: String) -> String {
        "soak-mismatch " + text.replacing("\n", with: " ")
    }
    /// `soak-totals {JSON}`.
    public static func totalsLine(_ totals: SoakTotals) -> String {
        "soak-totals " + ((try? json(totals)) ?? "{}")
    }

    /// Writes `text` and a newline to standard output in one `write` call, with no buffer in
    /// between: the line survives a process that dies right after (a worker, a SIGBUS child).
    public static func writeLine(_ text: String) {
        let line = text + "\n"
        _ = line.withCString { Platform.write(1, $0, strlen($0)) }
    }

    /// `totals` as one compact JSON object with sorted keys.
    public static func json(_ totals: SoakTotals) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(totals), as: UTF8.self)
    }

    /// What a worker line says.
    public enum Event: Sendable, Equatable {
        /// Round `index` started (`plan` is its description).
        case round(index: Int, plan: String)
        /// A mismatch.
        case mismatch(String)
        /// The worker's totals so far.
        case totals(SoakTotals)
    }

    /// The event `line` carries, or nil for any other line.
    public static func parse(_ line: String) -> Event? {
        if line.hasPrefix("soak-round ") {
            let rest = line.dropFirst("soak-round ".count)
            let number = rest.prefix { $0 != " " }
            guard let index = Int(number) else { return nil }
            return .round(index: index, plan: String(rest.dropFirst(number.count).drop { $0 == " " }))
        }
        if line.hasPrefix("soak-mismatch ") { return .mismatch(String(line.dropFirst("soak-mismatch ".count))) }
        if line.hasPrefix("soak-totals ") {
            let text = line.dropFirst("soak-totals ".count)
            guard let totals = try? JSONDecoder().decode(SoakTotals.self, from: Data(text.utf8)) else { return nil }
            return .totals(totals)
        }
        return nil
    }
}

/// Runs a soak in worker processes and survives them: a worker that dies of a signal (a
/// planted bug's trap, an unexpected SIGBUS) or hangs is counted as a crash and a mismatch
/// naming the round it was in, and a new worker goes on from the next round until the
/// duration is over.
public struct SoakSupervisor: Sendable {
    /// The worker's executable.
    public var executable: String
    /// The worker's arguments for a run starting at round `firstRound` with `seconds` left.
    public var arguments: @Sendable (_ firstRound: Int, _ seconds: Double) -> [String]
    /// Environment variables added to the workers'.
    public var environment: [String: String] = [:]
    /// A worker silent this long (no round ended) is killed as hung.
    public var silenceTimeoutMilliseconds = 180_000

    /// A supervisor of `executable` run with `arguments(firstRound, secondsLeft)`.
    public init(executable: String, arguments: @escaping @Sendable (_ firstRound: Int, _ seconds: Double) -> [String]) {
        self.executable = executable
        self.arguments = arguments
    }

    /// Runs workers from round `firstRound` until `duration` seconds have passed (or, with
    /// `stopOnFirstMismatch`, until one is found). Calls `onEvent` with every worker event
    /// and `onCrash` with each crash's description; returns the totals of all workers.
    public func run(
        duration: Double, firstRound: Int = 0, stopOnFirstMismatch: Bool,
        onEvent: (SoakWire.Event) -> Void = { _ in }, onCrash: (String) -> Void = { _ in }
    ) throws(SoakError) -> SoakTotals {
        let start = MonotonicClock.seconds()
        var totals = SoakTotals()
        var next = firstRound
        while true {
            let left = max(0, duration - (MonotonicClock.seconds() - start))
            var latest = SoakTotals()
            var unreported: [String] = []  // mismatches after the latest totals line
            var current: (index: Int, plan: String)? = nil
            let outcome: ChildProcess.Outcome
            do {
                outcome = try ChildProcess.run(
                    executable, arguments(next, left), environment: environment.merging(["SWIFT_BACKTRACE": "enable=no"]) { a, _ in a },
                    silenceTimeoutMilliseconds: silenceTimeoutMilliseconds
                ) { line in
                    guard let event = SoakWire.parse(line) else { return }
                    switch event {
                    case .round(let index, let plan): current = (index, plan)
                    case .mismatch(let text): unreported.append(text)
                    case .totals(let worker):
                        latest = worker
                        unreported = []
                    }
                    onEvent(event)
                }
            } catch {
                throw .spawn(executable: executable, error)
            }
            totals.add(latest)
            for text in unreported { totals.addMismatch(text) }
            switch outcome.termination {
            case .exited(0), .exited(1):
                if !outcome.killedForSilence { return totals }
            case .exited(2):
                throw .setup(round: current?.index ?? next, "the worker could not set up a round (its standard error says why)")
            default:
                break
            }
            let round = current.map { "round \($0.index) (\($0.plan))" } ?? "before its first round"
            let text = outcome.killedForSilence
                ? "a worker hung in \(round): killed after \(silenceTimeoutMilliseconds / 1000) s without a word"
                : "a worker died of \(outcome.termination) in \(round)"
            totals.crashes += 1
            totals.addMismatch(text)
            onCrash(text)
            next = (current?.index ?? next) + 1
            if stopOnFirstMismatch || MonotonicClock.seconds() - start >= duration { return totals }
        }
    }
}
