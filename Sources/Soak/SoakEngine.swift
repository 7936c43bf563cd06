import Swap
import SystemSupport
import Workloads

/// Runs soak rounds in this process until the duration is over: each round a plan drawn from
/// the seed (``SoakRoundPlan``), run by `SoakRound` (or, one round in
/// ``SoakOptions/sigbusEvery``, a ``SoakSigbusRound`` in a child process), then the process's
/// footprint compared with the one after the first round.
///
/// ```swift
/// var options = SoakOptions(duration: 10, seed: 1, threads: 3)
/// options.directory = "/tmp"
/// let totals = try SoakEngine(options: options).run()
/// print(totals.summary)          // mismatches 0, leaks 0
/// ```
///
/// A round that a bug makes crash takes the process with it: `uswap soak` therefore runs the
/// engine in a worker process under ``SoakSupervisor``, which counts the crash and goes on.
public struct SoakEngine: Sendable {
    /// The options.
    public let options: SoakOptions

    /// An engine for `options`; throws ``SoakError/invalidOption(_:)`` for options out of
    /// range and ``SoakError/regionsUnavailable(_:)`` when swap regions cannot run here.
    public init(options: SoakOptions) throws(SoakError) {
        if let problem = options.problem { throw .invalidOption(problem) }
        if case .failure(let error) = SwapRegion.probe() { throw .regionsUnavailable(error) }
        self.options = options
    }

    /// The plan of round `index`.
    public func plan(_ index: Int) -> SoakRoundPlan {
        let span = options.roundMilliseconds
        let milliseconds = span.lowerBound + Int(SplitMix64.output(index, seed: options.seed ^ 0x6D73) % UInt64(span.count))
        return SoakRoundPlan(seed: options.seed, index: index, threads: options.threads, milliseconds: milliseconds)
    }

    /// Runs rounds until the duration is over (or the only round, or the first mismatch when
    /// asked). `onRoundStart` sees each plan before it runs, `onMismatch` each mismatch as it
    /// is found (from any thread), `onRoundEnd` the totals so far after each round. Throws when
    /// a round cannot be set up (a backing file, a region).
    @discardableResult
    public func run(
        onRoundStart: (SoakRoundPlan) -> Void = { _ in },
        onMismatch: @escaping @Sendable (String) -> Void = { _ in },
        onRoundEnd: (SoakTotals) -> Void = { _ in }
    ) throws(SoakError) -> SoakTotals {
        let start = MonotonicClock.seconds()
        var totals = SoakTotals()
        var baseline: ProcessFootprint? = nil
        var index = options.onlyRound ?? options.firstRound
        while true {
            let plan = plan(index)
            onRoundStart(plan)
            let round: SoakTotals
            var abandoned = false
            if let child = options.sigbusChild, options.onlyRound == nil, index % options.sigbusEvery == options.sigbusEvery - 1 {
                round = SoakSigbusRound.run(child, seed: options.seed, index: index, directory: options.directory)
                for line in round.mismatchDetails { onMismatch(line) }
            } else {
                (round, abandoned) = try runRound(plan, onMismatch: onMismatch)
            }
            totals.add(round)
            if options.checkProcessFootprint && !abandoned, let now = try? ProcessFootprint.current() {
                if var settled = baseline {
                    let current = Self.settle(now, baseline: &settled) { try? ProcessFootprint.current() }
                    baseline = settled
                    check(current, against: settled, round: index, into: &totals)
                } else {
                    baseline = now
                }
            }
            onRoundEnd(totals)
            index += 1
            if abandoned || options.onlyRound != nil { break }
            if options.stopOnFirstMismatch && totals.mismatches > 0 { break }
            if MonotonicClock.seconds() - start >= options.duration { break }
        }
        return totals
    }

    /// Runs one in-process round; returns its totals and whether its region was abandoned.
    private func runRound(_ plan: SoakRoundPlan, onMismatch: @escaping @Sendable (String) -> Void) throws(SoakError) -> (SoakTotals, Bool) {
        let round = try SoakRound(
            plan: plan, directory: options.directory, stopOnMismatch: options.stopOnFirstMismatch, onMismatch: onMismatch)
        let totals = round.run()
        return (totals, round.broken.load(ordering: .relaxed))
    }

    /// Reads of the footprint a thread count above the baseline waits through (10 ms apart).
    static let threadSettleReads = 50

    /// The footprint to judge, with the baseline corrected: a thread the round joined can still
    /// be listed in /proc/self/task for a moment (`pthread_join` returns once the kernel has
    /// cleared the thread's id, before it releases the task; on a loaded machine the exiting
    /// thread can be preempted in between). So more threads than the baseline are read again
    /// (`reread`, up to ``threadSettleReads`` times, 10 ms apart) before they count as a leak,
    /// and fewer threads than the baseline lower it: the baseline itself counted an exiting
    /// thread. (CI's soak of 2026-12-02, seed 473477776: "1 threads against 2" after every
    /// round; its replay: "2 threads against 1" once.)
    static func settle(
        _ now: ProcessFootprint, baseline: inout ProcessFootprint, reread: () -> ProcessFootprint?
    ) -> ProcessFootprint {
        var current = now
        var reads = 0
        while current.threads > baseline.threads && reads < threadSettleReads {
            sleepMicroseconds(10_000)
            if let again = reread() { current = again }
            reads += 1
        }
        if current.threads < baseline.threads { baseline.threads = current.threads }
        return current
    }

    /// Compares the footprint after a round with the baseline: descriptors and threads must be
    /// back exactly, mappings and RSS within their slack.
    private func check(_ now: ProcessFootprint, against baseline: ProcessFootprint, round: Int, into totals: inout SoakTotals) {
        totals.footprint.record(now, baseline: baseline)
        var problems: [String] = []
        if now.openDescriptors != baseline.openDescriptors {
            problems.append("\(now.openDescriptors) open descriptors against \(baseline.openDescriptors)")
        }
        if now.threads != baseline.threads { problems.append("\(now.threads) threads against \(baseline.threads)") }
        if now.mappings > baseline.mappings + options.mappingSlack {
            problems.append("\(now.mappings) mappings against \(baseline.mappings) (+\(options.mappingSlack) allowed)")
        }
        if now.residentBytes > baseline.residentBytes + options.residentSlackBytes {
            problems.append("RSS \(now.residentBytes >> 10) KiB against \(baseline.residentBytes >> 10) KiB (+\(options.residentSlackBytes >> 10) allowed)")
        }
        if !problems.isEmpty { totals.addLeak("after round \(round): " + problems.joined(separator: ", ")) }
    }
}
