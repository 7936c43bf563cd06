import Testing

@testable import Soak

/// Single rounds in this process: no mismatch, nothing left behind, on each backend.
@Suite(.serialized) struct SoakRoundTests {
    @Test(arguments: 0..<6)
    func aRoundFindsNothingWrongAndLeavesNothingBehind(index: Int) throws {
        guard regionsAvailable() else { return }
        let plan = shortPlan(index, milliseconds: 600)
        let round = try SoakRound(plan: plan, directory: "/tmp", stopOnMismatch: false) { _ in }
        let totals = round.run()
        #expect(totals.mismatchDetails == [])
        #expect(totals.leakDetails == [])
        #expect(totals.rounds == 1 && totals.roundsByBackend == [plan.backend.rawValue: 1])
        #expect(totals.operations > 0 && totals.pageChecks >= 2 * plan.regionPages)
        #expect(totals.swapOuts > 0)
        let broken = round.broken.load(ordering: .relaxed)
        #expect(!broken)
        #expect(round.region.isClosed)
    }

    @Test func aRoundWithPermanentReadFaultsChecksThemAndFindsNothingWrong() throws {
        guard regionsAvailable() else { return }
        let plan = shortPlan(1, milliseconds: 1_500) {
            $0.backend = .zswapFile
            $0.faults = SoakFaultPlan()
            $0.faults.permanentReadChecks = true
            $0.faults.readFaults = [.eio, .short]
        }
        let round = try SoakRound(plan: plan, directory: "/tmp", stopOnMismatch: false) { _ in }
        let totals = round.run()
        #expect(totals.mismatchDetails == [])
        #expect(totals.leakDetails == [])
    }

    @Test func aBackingFileThatCannotBeMadeIsATypedError() {
        let plan = shortPlan(1) { $0.backend = .zswapFile }
        #expect {
            _ = try SoakRound(plan: plan, directory: "/nonexistent-uswap-soak", stopOnMismatch: false) { _ in }
        } throws: { error in
            guard case SoakError.backingFile(let directory, _)? = error as? SoakError else { return false }
            return directory == "/nonexistent-uswap-soak"
        }
    }
}
