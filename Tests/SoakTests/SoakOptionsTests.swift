import Testing

@testable import Soak

@Suite struct SoakOptionsTests {
    @Test func defaultsRun() {
        #expect(SoakOptions(duration: 60, seed: 1, threads: 3).problem == nil)
    }

    @Test func outOfRangeOptionsSayWhatToGive() {
        #expect(SoakOptions(duration: -1, seed: 1, threads: 3).problem == "duration -1.0 s must be 0 or more")
        #expect(SoakOptions(duration: 1, seed: 1, threads: 0).problem == "0 threads: give 1...16")
        var options = SoakOptions(duration: 1, seed: 1, threads: 2)
        options.roundMilliseconds = 10...20
        #expect(options.problem?.contains("give at least 50") == true)
        options.roundMilliseconds = 100...200
        options.sigbusEvery = 0
        #expect(options.problem?.contains("give at least 1") == true)
    }
}
