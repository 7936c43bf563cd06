import Synchronization
import SystemSupport
import Testing

@testable import Soak

@Suite(.serialized) struct SoakEngineTests {
    /// Options for a short soak in this (shared) test process: no footprint checks, since
    /// other tests open descriptors and start threads meanwhile.
    func options(duration: Double, seed: UInt64) -> SoakOptions {
        var options = SoakOptions(duration: duration, seed: seed, threads: 2)
        options.directory = "/tmp"
        options.roundMilliseconds = 300...700
        options.checkProcessFootprint = false
        return options
    }

    @Test func aShortSoakOnEveryBackendFindsNothingWrong() throws {
        guard regionsAvailable() else { return }
        var options = options(duration: 4, seed: 21)
        if let uswap = uswapPath() {
            options.sigbusChild = SoakChildCommand(executable: uswap, arguments: ["soak", "--sigbus-round"])
            options.sigbusEvery = 4
        }
        var started: [Int] = []
        var ends = 0
        let totals = try SoakEngine(options: options).run(
            onRoundStart: { started.append($0.index) }, onRoundEnd: { _ in ends += 1 })
        #expect(totals.mismatchDetails == [])
        #expect(totals.leakDetails == [])
        #expect(totals.rounds + totals.sigbusRounds >= 3)
        #expect(Set(totals.roundsByBackend.keys).count == min(3, totals.rounds))
        #expect(started == Array(0..<started.count) && ends == started.count)
        if options.sigbusChild != nil { #expect(totals.sigbusRounds >= 1) }
    }

    @Test func replaysOneRoundOfASeed() throws {
        guard regionsAvailable() else { return }
        var options = options(duration: 600, seed: 5)
        options.onlyRound = 7
        var plans: [SoakRoundPlan] = []
        let engine = try SoakEngine(options: options)
        let totals = try engine.run(onRoundStart: { plans.append($0) })
        #expect(plans == [engine.plan(7)])
        #expect(totals.rounds == 1 && totals.mismatches == 0)
    }

    @Test func comparesTheFootprintAfterEachRoundWithTheFirstRounds() throws {
        guard regionsAvailable() else { return }
        var options = options(duration: 1, seed: 9)
        options.checkProcessFootprint = true
        // Other tests share this process: only that the comparison happens is checked here
        // (`uswap soak` checks the figures themselves in a process of its own).
        options.residentSlackBytes = Int.max / 2
        options.mappingSlack = Int.max / 2
        let totals = try SoakEngine(options: options).run()
        #expect(totals.rounds >= 2)
        #expect(totals.footprint.samples == totals.rounds - 1)
        #expect(totals.footprint.baselineDescriptors >= 3 && totals.footprint.baselineRSSKiB > 1024)
    }

    @Test func rejectsOptionsOutOfRange() {
        #expect(throws: SoakError.invalidOption("0 threads: give 1...16")) {
            _ = try SoakEngine(options: SoakOptions(duration: 1, seed: 1, threads: 0))
        }
    }

    /// A thread joined by the round can still be listed for a moment: more threads than the
    /// baseline are read again before they count; fewer lower the baseline.
    @Test func aThreadStillExitingIsNotALeakAndALowerCountLowersTheBaseline() {
        func footprint(threads: Int) -> ProcessFootprint {
            ProcessFootprint(openDescriptors: 5, mappings: 100, threads: threads, residentBytes: 10 << 20)
        }
        // 3 against 2, then 3 again, then 2: settled at 2, the baseline unchanged.
        var baseline = footprint(threads: 2)
        var reads = [3, 2][...]
        var settled = SoakEngine.settle(footprint(threads: 3), baseline: &baseline) { reads.popFirst().map { footprint(threads: $0) } }
        #expect(settled.threads == 2 && baseline.threads == 2 && reads.isEmpty)
        // A thread that stays: still 3 after every read, so it is judged a leak.
        var count = 0
        settled = SoakEngine.settle(footprint(threads: 3), baseline: &baseline) {
            count += 1
            return footprint(threads: 3)
        }
        #expect(settled.threads == 3 && count == SoakEngine.threadSettleReads)
        // The baseline counted an exiting thread: 1 against 2 lowers it, without reading again.
        count = 0
        settled = SoakEngine.settle(footprint(threads: 1), baseline: &baseline) {
            count += 1
            return nil
        }
        #expect(settled.threads == 1 && baseline.threads == 1 && count == 0)
    }
}
