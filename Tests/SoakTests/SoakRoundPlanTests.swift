import Swap
import Testing

@testable import Soak

@Suite struct SoakRoundPlanTests {
    let plans = (0..<300).map { SoakRoundPlan(seed: 42, index: $0, threads: 3, milliseconds: 500) }

    @Test func aPlanIsAFunctionOfTheSeedAndTheRound() {
        #expect(SoakRoundPlan(seed: 42, index: 17, threads: 3, milliseconds: 500) == plans[17])
        #expect(SoakRoundPlan(seed: 43, index: 17, threads: 3, milliseconds: 500) != plans[17])
        #expect(plans[17].description.hasPrefix("#17 "))
    }

    @Test func roundsTakeTheBackendsInTurn() {
        for plan in plans { #expect(plan.backend == SoakBackend.allCases[plan.index % 3]) }
    }

    @Test func everyPolicyModeAndFaultKindComesUp() {
        #expect(Set(plans.map(\.policy)) == Set(SlotPolicy.allCases))
        #expect(Set(plans.map(\.faultMode)) == Set(SwapRegionConfiguration.FaultMode.allCases))
        #expect(Set(plans.map(\.evictionMethod)) == Set(SwapRegionConfiguration.EvictionMethod.allCases))
        #expect(Set(plans.map(\.reclaimMode)) == Set(SwapRegionConfiguration.ReclaimMode.allCases))
        #expect(plans.contains { $0.fileReads != .inline })
        #expect(Set(plans.flatMap(\.faults.readFaults)) == Set(SoakFaultPlan.ReadFault.allCases))
        #expect(plans.contains { $0.faults.writeFaultEvery > 0 })
        #expect(plans.contains { $0.faults.fileAlwaysFull })
        #expect(plans.contains { $0.faults.readDelayMicroseconds > 0 })
        #expect(plans.contains { $0.faults.punchFailures })
        #expect(plans.contains { $0.faults.permanentReadChecks })
        #expect(plans.contains { $0.backend == .zramWriteback && $0.fileBlocks < $0.regionPages })
    }

    @Test func faultsOnlyWhereTheyCanBeAbsorbed() {
        for plan in plans {
            #expect(plan.residentPages >= SwapRegionConfiguration.minimumResidentPages)
            #expect(plan.workerPages >= plan.residentPages * 2)
            if !plan.backend.hasFile {
                #expect(plan.faults == SoakFaultPlan())
                #expect(plan.quarantinePages == 0 && plan.fileReads == .inline)
            }
            // A flipped byte is caught only by a checksum.
            if !plan.checksums { #expect(!plan.faults.readFaults.contains(.corrupt)) }
            // With the file always full, the zswap pool must hold every page.
            if plan.faults.fileAlwaysFull && plan.backend == .zswapFile { #expect(plan.poolPages >= plan.regionPages) }
            if plan.faults.fileAlwaysFull { #expect(plan.faults.writeFaultEvery == 0) }
            #expect(plan.readRetries >= 1)
        }
    }

    @Test func theFaultSummaryNamesEachPart() {
        var faults = SoakFaultPlan()
        #expect(faults.summary == "none")
        faults.readFaults = [.eio, .corrupt]
        faults.writeFaultEvery = 20
        faults.readDelayMicroseconds = 200
        faults.permanentReadChecks = true
        #expect(faults.summary == "reads:eio+corrupt writes:1/20 slow:r200us,w0us permanent")
    }
}
