import PageCodecs
import SystemSupport
import Testing
import Workloads
import ZRAM

@testable import ProcessAnalysis

@Suite struct CodecSinkTests {
    let pageSize = MemoryAnalysis.systemPageSize

    @Test("a codec sink sorts pages into quarters, counts raw pages, and stores every page in its pool")
    func codecSink() throws {
        let device = try ZramDevice(ZramConfiguration(disksize: 4 * pageSize, codec: .lz4))
        let sink = CodecSink(codec: .lz4, stream: try PageCodecFactory.lz4.makeStream(), pool: device, pageSize: pageSize, mappings: 2)
        sink.checkInvariants()
        for (slot, (pattern, mapping, same)) in [(MemoryPattern.text, 0, false), (.random, 1, false), (.zero, 1, true), (.same, 0, true)].enumerated() {
            let page = pattern.expectedPage(0, pageSize: pageSize)
            try page.withUnsafeBytes { try sink.add($0, slot: slot, mapping: mapping, isSame: same) }
        }
        sink.checkInvariants()
        #expect(sink.histogram == [1, 0, 0, 1])
        #expect(sink.rawPages == 1)
        #expect(sink.compressedBytes[1] == pageSize)
        #expect(sink.compressedBytes[0] > 0 && sink.compressedBytes[0] <= pageSize / 4)
        #expect(device.mmStat.origDataSize == 4 * pageSize && device.mmStat.samePages == 2 && device.mmStat.hugePages == 1)
    }
}
