import PageCodecs
import Testing

@testable import ZRAM

@Suite struct ZramConfigurationTests {
    @Test func defaultsAreFourKiBPagesLZ4AndNoLimit() {
        let configuration = ZramConfiguration(disksize: 1 << 20)
        #expect(configuration.pageSize == 4096)
        #expect(configuration.codec == .lz4)
        #expect(configuration.memLimit == 0)
        #expect(configuration.secondaryCodec == nil)
        #expect(configuration.problem == nil)
    }

    @Test(arguments: [
        (disksize: 0, pageSize: 4096, memLimit: 0),
        (disksize: 4097, pageSize: 4096, memLimit: 0),
        (disksize: 1 << 20, pageSize: 3000, memLimit: 0),
        (disksize: 1 << 20, pageSize: 1 << 17, memLimit: 0),
        (disksize: 1 << 20, pageSize: 4096, memLimit: -1),
    ])
    func badConfigurationsAreRejectedWithAReason(disksize: Int, pageSize: Int, memLimit: Int) {
        let configuration = ZramConfiguration(disksize: disksize, pageSize: pageSize, memLimit: memLimit)
        #expect(configuration.problem != nil)
        #expect(throws: ZramError.invalidConfiguration(configuration.problem ?? "")) {
            _ = try ZramDevice(configuration)
        }
    }

    @Test func memLimitRoundsUpToWholePages() throws {
        let device = try ZramDevice(ZramConfiguration(disksize: 1 << 20, memLimit: 5000))
        #expect(device.configuration.memLimit == 8192)
        #expect(device.mmStat.memLimit == 8192)
    }
}
