import Glibc
import Testing

@testable import ProcessPager

@Suite struct RunStatusClientTests {
    @Test(arguments: [("uswap-run.1234", 1234), ("uswap-run.77x", 77), ("uswap-run.", 0)])
    func thePidComesFromTheSocketName(name: String, pid: Int) {
        #expect(RunStatusClient.pid(of: name) == pid)
    }

    @Test func aRunThatIsNotThereDoesNotAnswer() {
        #expect(RunStatusClient.query("uswap-run.test-nobody-\(getpid())", timeoutMilliseconds: 100) == nil)
    }

    @Test func runningNamesAreOnlyUswapRuns() {
        for name in RunStatusClient.runningSocketNames() { #expect(name.hasPrefix(RunStatusClient.namePrefix)) }
    }
}
