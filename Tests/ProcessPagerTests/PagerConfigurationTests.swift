import Testing

@testable import ProcessPager

@Suite struct PagerConfigurationTests {
    @Test func aSensibleConfigurationHasNoProblem() {
        let configuration = PagerConfiguration(residentLimitBytes: 80 << 20, socketName: "t")
        #expect(configuration.problem == nil)
        #expect(configuration.limitPages == 20_480)
        #expect(configuration.reservePages == 320)
    }

    @Test func aTinyLimitIsRefusedWithTheSmallestThatWorks() {
        let problem = PagerConfiguration(residentLimitBytes: 4096, socketName: "t").problem
        #expect(problem?.contains("256K") == true)
    }

    @Test func writebackGoesOnlyWithZram() {
        var configuration = PagerConfiguration(residentLimitBytes: 8 << 20, socketName: "t")
        configuration.backend = .zswap(path: "/tmp/f")
        configuration.writebackPath = "/tmp/w"
        #expect(configuration.problem?.contains("--writeback") == true)
    }

    @Test(arguments: [("zram", PagerBackend.zram), ("zswap:/var/tmp/x", .zswap(path: "/var/tmp/x"))])
    func backendsParseAndPrintBack(argument: String, backend: PagerBackend) {
        #expect(PagerBackend(argument: argument) == backend)
        #expect(backend.description == argument)
    }

    @Test(arguments: ["", "zswap:", "zswap", "file"])
    func otherBackendsAreRefused(argument: String) {
        #expect(PagerBackend(argument: argument) == nil)
    }
}
