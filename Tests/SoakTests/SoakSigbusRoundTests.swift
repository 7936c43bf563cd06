import Foundation
import Testing

@testable import Soak

/// SIGBUS rounds in a child (`uswap soak --sigbus-round`): a touch of a page whose reads keep
/// failing must die of SIGBUS having freed nothing, in both fault modes and file-tier backends.
@Suite struct SoakSigbusRoundTests {
    @Test(arguments: 0..<6)
    func aPermanentReadFailureEndsInSIGBUSThatFreedNothingAndLeftNoFile(index: Int) throws {
        guard regionsAvailable(), let uswap = uswapPath() else { return }
        let directory = try #require(makeTemporaryDirectory())
        defer { _ = rmdir(directory) }
        let command = SoakChildCommand(executable: uswap, arguments: ["soak", "--sigbus-round"])
        let totals = SoakSigbusRound.run(command, seed: 77, index: index, directory: directory)
        #expect(totals.mismatchDetails == [])
        #expect(totals.sigbusRounds == 1)
        #expect(totals.failedFaults == 1)
        // The child died without closing its backing file: it must have removed its name first.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == [])
    }

    @Test func aChildThatDoesNotDieOfSIGBUSIsAMismatch() {
        let command = SoakChildCommand(executable: "/bin/sh", arguments: ["-c", "echo 'before: page=1'; exit 1", "sh"])
        let totals = SoakSigbusRound.run(command, seed: 1, index: 2, directory: "/tmp")
        #expect(totals.mismatches == 1)
        #expect(totals.mismatchDetails.first?.contains("ended with exit status 1, not SIGBUS") == true)
    }

    @Test func aReportThatShowsAFreedCopyIsAMismatch() {
        let script = """
            echo 'before: page=3 slot=9 block=9 kind=eio backend=zswap+file mode=signal reads=inline policy=lazy slots_in_use=40 failed_faults=0'
            echo 'sigbus: addr=0x1000 code=2 in_page=1 still_swapped=1 held=0 slots_in_use=39 failed_faults=1'
            kill -BUS $$
            """
        let command = SoakChildCommand(executable: "/bin/sh", arguments: ["-c", script, "sh"])
        let totals = SoakSigbusRound.run(command, seed: 1, index: 2, directory: "/tmp")
        #expect(totals.mismatches == 1)
        let detail = totals.mismatchDetails.first ?? ""
        #expect(detail.contains("a failed swap-in freed it"))
        #expect(detail.contains("slots in use went down from 40 to 39"))
    }

    @Test func aChildThatCouldNotSetUpIsSkipped() {
        let command = SoakChildCommand(executable: "/bin/sh", arguments: ["-c", "exit \(SoakSigbusRound.notSetUp)", "sh"])
        #expect(SoakSigbusRound.run(command, seed: 1, index: 2, directory: "/tmp") == SoakTotals())
    }
}
