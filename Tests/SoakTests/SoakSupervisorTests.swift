import Synchronization
import Testing

@testable import Soak

@Suite struct SoakSupervisorTests {
    /// A totals line for `rounds` rounds.
    func totalsLine(rounds: Int) -> String {
        var totals = SoakTotals()
        totals.rounds = rounds
        totals.operations = 10 * rounds
        return SoakWire.totalsLine(totals)
    }

    @Test func parsesTheWorkersLines() {
        #expect(SoakWire.parse("soak-round 12 #12 zram lazy") == .round(index: 12, plan: "#12 zram lazy"))
        #expect(SoakWire.parse(SoakWire.mismatchLine("a\nb")) == .mismatch("a b"))
        var totals = SoakTotals()
        totals.rounds = 3
        #expect(SoakWire.parse(SoakWire.totalsLine(totals)) == .totals(totals))
        #expect(SoakWire.parse("soak-totals {broken") == nil)
        #expect(SoakWire.parse("something else") == nil)
        #expect(SoakWire.roundLine(shortPlan(4)).hasPrefix("soak-round 4 #4 "))
    }

    @Test func takesTheTotalsOfAWorkerThatFinishes() throws {
        let line = totalsLine(rounds: 2)
        let supervisor = SoakSupervisor(executable: "/bin/sh") { _, _ in ["-c", "echo 'soak-round 0 plan'; echo '\(line)'"] }
        let totals = try supervisor.run(duration: 60, stopOnFirstMismatch: false)
        #expect(totals.rounds == 2 && totals.operations == 20 && totals.crashes == 0 && totals.mismatches == 0)
    }

    @Test func countsAWorkerThatDiesAndGoesOnFromTheNextRound() throws {
        let line = totalsLine(rounds: 1)
        // First worker: one round done, then a mismatch and SIGBUS in round 1. The next starts
        // at round 2 and finishes.
        let script = """
            if [ "$0" = 0 ]; then echo 'soak-round 0 a'; echo '\(line)'; echo 'soak-round 1 b'; echo 'soak-mismatch boom'; kill -BUS $$; fi
            echo "soak-round $0 c"; echo '\(line)'
            """
        let firsts = Mutex<[Int]>([])
        let supervisor = SoakSupervisor(executable: "/bin/sh") { first, _ in
            firsts.withLock { $0.append(first) }
            return ["-c", script, "\(first)"]
        }
        var crashes: [String] = []
        let totals = try supervisor.run(duration: 60, stopOnFirstMismatch: false, onCrash: { crashes.append($0) })
        #expect(firsts.withLock { $0 } == [0, 2])
        #expect(totals.rounds == 2 && totals.crashes == 1)
        #expect(totals.mismatchDetails == ["boom", "a worker died of signal 7 in round 1 (b)"])
        #expect(crashes == ["a worker died of signal 7 in round 1 (b)"])
    }

    @Test func killsAWorkerThatHangs() throws {
        var supervisor = SoakSupervisor(executable: "/bin/sh") { _, _ in ["-c", "echo 'soak-round 5 slow'; exec sleep 30"] }
        supervisor.silenceTimeoutMilliseconds = 300
        let totals = try supervisor.run(duration: 60, firstRound: 5, stopOnFirstMismatch: true)
        #expect(totals.crashes == 1)
        #expect(totals.mismatchDetails.first?.contains("a worker hung in round 5 (slow)") == true)
    }

    @Test func aWorkerThatCannotSetUpIsAnError() {
        let supervisor = SoakSupervisor(executable: "/bin/sh") { _, _ in ["-c", "exit 2"] }
        #expect(throws: SoakError.self) { try supervisor.run(duration: 60, stopOnFirstMismatch: false) }
        let missing = SoakSupervisor(executable: "/nonexistent/uswap") { _, _ in [] }
        #expect(throws: SoakError.spawn(executable: "/nonexistent/uswap", .noSuchFileOrDirectory)) {
            try missing.run(duration: 60, stopOnFirstMismatch: false)
        }
    }
}
