import Testing
@testable import ZSwap

@Suite struct FrontswapConfigurationTests {
    @Test func percentOfRAMResolvesAgainstMemTotalInWholePages() {
        let configuration = FrontswapConfiguration(slotCount: 16, poolLimit: .percentOfRAM(20))
        #expect(configuration.poolLimitBytes(memTotal: 1 << 30) == (1 << 30) / 100 * 20 / 4096 * 4096)
        let bytes = FrontswapConfiguration(slotCount: 16, poolLimit: .bytes(10_000))
        #expect(bytes.poolLimitBytes(memTotal: 1 << 30) == 8192)
    }

    @Test func theDefaultsAreZswaps() {
        let configuration = FrontswapConfiguration(slotCount: 16)
        #expect(configuration.poolLimit == .percentOfRAM(20))
        #expect(configuration.acceptThresholdPercent == 90)
        #expect(configuration.problem == nil)
    }

    @Test(arguments: [
        { var c = FrontswapConfiguration(slotCount: 0); c.pageSize = 4096; return c }(),
        FrontswapConfiguration(slotCount: 4, pageSize: 3000),
        FrontswapConfiguration(slotCount: 4, poolLimit: .percentOfRAM(0)),
        FrontswapConfiguration(slotCount: 4, poolLimit: .percentOfRAM(101)),
        FrontswapConfiguration(slotCount: 4, poolLimit: .bytes(100)),
        { var c = FrontswapConfiguration(slotCount: 4); c.acceptThresholdPercent = 120; return c }(),
        { var c = FrontswapConfiguration(slotCount: 4); c.writebackBatch = 0; return c }(),
    ])
    func badValuesAreNamedInTheProblem(configuration: FrontswapConfiguration) {
        #expect(configuration.problem != nil)
    }
}
