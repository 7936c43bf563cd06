import SecondTier
import Testing

@testable import ProcessPager

@Suite struct PagerConfigurationTests {
    @Test func aSensibleConfigurationHasNoProblem() {
        let configuration = PagerConfiguration(residentLimitBytes: 80 << 20, socketName: "t")
        #expect(configuration.problem == nil)
        #expect(configuration.limitPages == 20_480)
        #expect(configuration.reservePages == 320)
        var small = PagerConfiguration(residentLimitBytes: 1 << 20, socketName: "t")
        #expect(small.reservePages == 128, "at least two batches of 64")
        small.reserveDivisor = 1
        #expect(small.reservePages == 256)
        small.reserveDivisor = 0
        #expect(small.problem != nil)
    }

    @Test func aPageThatComesBackSoonerIsSkippedLonger() {
        var configuration = PagerConfiguration(residentLimitBytes: 80 << 20, socketName: "t")
        // Threshold 100 epochs: a quarter is below 25, a half below 50.
        #expect(configuration.refaultHeat(distance: 0, threshold: 100) == 3)
        #expect(configuration.refaultHeat(distance: 24, threshold: 100) == 3)
        #expect(configuration.refaultHeat(distance: 25, threshold: 100) == 2)
        #expect(configuration.refaultHeat(distance: 49, threshold: 100) == 2)
        #expect(configuration.refaultHeat(distance: 50, threshold: 100) == 1)
        #expect(configuration.refaultHeat(distance: 99, threshold: 100) == 1)
        // At the threshold or beyond: it would have gone with a little more room anyway.
        #expect(configuration.refaultHeat(distance: 100, threshold: 100) == 0)
        #expect(configuration.refaultHeat(distance: 30_000, threshold: 100) == 0)
        // More laps never go past the state's 2 bits.
        configuration.refaultLaps = 3
        #expect(configuration.refaultHeat(distance: 0, threshold: 100) == 3)
        configuration.refaultLaps = 2
        #expect(configuration.refaultHeat(distance: 30, threshold: 100) == 3)
        // Flat: the configured laps wherever the refault is near.
        configuration.gradesRefaultHeat = false
        #expect(configuration.refaultHeat(distance: 0, threshold: 100) == 2)
        #expect(configuration.refaultHeat(distance: 99, threshold: 100) == 2)
        // No laps: no heat at any distance.
        configuration.refaultLaps = 0
        configuration.gradesRefaultHeat = true
        #expect(configuration.refaultHeat(distance: 0, threshold: 100) == 0)
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

    @Test(arguments: [("zram", PagerBackend.zram), ("zswap:/var/tmp/x", .zswap(path: "/var/tmp/x")), ("zswap", .zswapToTier)])
    func backendsParseAndPrintBack(argument: String, backend: PagerBackend) {
        #expect(PagerBackend(argument: argument) == backend)
        #expect(backend.description == argument)
    }

    @Test(arguments: ["", "zswap:", "zram:/tmp/x", "file"])
    func otherBackendsAreRefused(argument: String) {
        #expect(PagerBackend(argument: argument) == nil)
    }

    @Test func aTierGoesWithZramOrZswapAndNothingElseThatNamesAFile() {
        var configuration = PagerConfiguration(residentLimitBytes: 8 << 20, socketName: "t")
        configuration.tier = .file(path: "/tmp/t")
        #expect(configuration.problem == nil, "zram writing back to the tier")
        configuration.backend = .zswapToTier
        #expect(configuration.problem == nil)
        configuration.backend = .zswap(path: "/tmp/f")
        #expect(configuration.problem?.contains("give the file once") == true)
        configuration.backend = .zram
        configuration.writebackPath = "/tmp/w"
        #expect(configuration.problem?.contains("writeback target once") == true)
        configuration.writebackPath = nil
        configuration.tierLeaseTTLMilliseconds = 10
        #expect(configuration.problem?.contains("--lease-ttl") == true)
    }

    @Test func zswapWithoutATierAndEncryptionWithoutATierAreRefused() {
        var configuration = PagerConfiguration(residentLimitBytes: 8 << 20, socketName: "t")
        configuration.backend = .zswapToTier
        #expect(configuration.problem?.contains("needs its second tier") == true)
        configuration.backend = .zram
        configuration.encryptTier = true
        #expect(configuration.problem?.contains("--encrypt-tier needs a second tier") == true)
    }
}
