import Foundation
import Testing
import TestSupport

@testable import USwapCLI

/// `uswap soak` as people and CI run it: a worker process under a supervisor, a report or one
/// JSON object, exit status 1 on any finding. And the planted bugs it must find.
@Suite(.serialized) struct SoakCommandTests {
    /// The JSON object `uswap soak --json` printed.
    func report(_ run: HelperRun) throws -> [String: Any] {
        let line = try #require(run.output.split(separator: "\n").last { $0.hasPrefix("{") })
        return try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test func aShortSoakPassesAndReportsItsFigures() async throws {
        guard regionsAvailable() else { return }
        let run = try await HelperProcess.run("uswap", ["soak", "--duration", "8s", "--seed", "3", "--threads", "2", "--dir", "/tmp", "--json"])
        let object = try report(run)
        let totals = try #require(object["totals"] as? [String: Any])
        #expect(run.exitCode == 0, "\(run.output)")
        #expect(object["passed"] as? Bool == true)
        #expect(object["seed"] as? Int == 3)
        #expect((totals["rounds"] as? Int ?? 0) >= 2)
        #expect(totals["mismatches"] as? Int == 0 && totals["leaks"] as? Int == 0 && totals["crashes"] as? Int == 0)
        #expect((totals["operations"] as? Int ?? 0) > 0)
        let footprint = try #require(totals["footprint"] as? [String: Any])
        #expect(footprint["maxDescriptorDelta"] as? Int == 0 && footprint["maxThreadDelta"] as? Int == 0)
    }

    /// Whether this build can plant bugs (PageStore's `PlantedBug` exists in debug builds only).
    static var plantsAvailable: Bool {
        #if DEBUG
        true
        #else
        false
        #endif
    }

    /// Each planted bug makes the soak report a mismatch of its own kind and fail, well within
    /// two minutes: a corrupt page handed out, a page that lost (part of) a write, a failed
    /// swap-in that freed its copy.
    @Test(
        .enabled(if: plantsAvailable, "bugs can be planted in debug builds only"),
        arguments: [
            ("skipped-checksum", ["torn or corrupt", "permanent corrupt read fault: the swap-in succeeded"]),
            // (Found by the main region's checks, or by a small region's: a page filled while
            // the background reclaimer compressed it without protection, seen under load.)
            ("dropped-write", ["torn or corrupt", "a lost write", "does not hold what was written"]),
            ("slot-freed-early", ["freed its copy", "freed it"]),
        ])
    func aPlantedBugIsFoundWithinTwoMinutes(plant: String, signs: [String]) async throws {
        guard regionsAvailable() else { return }
        // A planted bug may crash a worker, which leaves its round's backing file: a directory
        // of the test's own, removed with whatever is in it.
        let directory = try #require(makeTemporaryDirectory())
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try await HelperProcess.run(
            "uswap", ["soak", "--duration", "120", "--seed", "1", "--dir", directory, "--plant", plant, "--stop-on-mismatch", "--json"])
        let object = try report(run)
        let totals = try #require(object["totals"] as? [String: Any])
        #expect(run.exitCode == 1)
        #expect(object["passed"] as? Bool == false)
        #expect((totals["mismatches"] as? Int ?? 0) >= 1, "\(run.output)")
        #expect((object["elapsed_s"] as? Double ?? 999) < 120)
        #expect(object["planted"] as? [String] == [plant])
        let details = totals["mismatchDetails"] as? [String] ?? []
        #expect(details.contains { detail in signs.contains { detail.contains($0) } }, "\(details)")
    }

    @Test func badOptionsSayWhatToGive() async throws {
        let threads = try await HelperProcess.run("uswap", ["soak", "--threads", "0"])
        #expect(threads.exitCode == 64 && threads.output.contains("--threads must be 1...16"))
        let duration = try await HelperProcess.run("uswap", ["soak", "--duration", "soon"])
        #expect(duration.exitCode == 64)
        let plant = try await HelperProcess.run("uswap", ["soak", "--plant", "nothing"])
        #expect(plant.exitCode == 64 && plant.output.contains("--plant nothing"))
    }

    @Test(arguments: [("90", 90.0), ("90s", 90), ("30m", 1800), ("1.5h", 5400), ("0", 0)])
    func durationsTakeSecondsOrAUnit(text: String, seconds: Double) {
        #expect(SoakDuration(argument: text)?.seconds == seconds)
    }

    @Test(arguments: ["", "m", "-5", "5x", "inf"])
    func badDurationsAreRefused(text: String) {
        #expect(SoakDuration(argument: text) == nil)
    }
}
