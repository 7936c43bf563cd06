import Foundation
import SystemPackage
import SystemSupport
import Testing

@testable import KernelSwap

@Suite struct KernelZramDeviceTests {
    @Test(arguments: [
        ("lzo-rle lzo [lz4] \n", "lz4", ["lzo-rle", "lzo", "lz4"]),
        ("[lzo-rle] lzo lz4 zstd", "lzo-rle", ["lzo-rle", "lzo", "lz4", "zstd"]),
    ])
    func compAlgorithmNamesTheBracketedOneAsSelected(text: String, selected: String, available: [String]) throws {
        let parsed = try #require(KernelZramDevice.parseAlgorithms(text))
        #expect(parsed.selected == selected)
        #expect(parsed.available == available)
    }

    @Test func compAlgorithmWithoutASelectionIsRejected() {
        #expect(KernelZramDevice.parseAlgorithms("lzo lz4") == nil)
    }

    @Test func attributesAreReadTrimmedAndStatisticsParsed() throws {
        let tree = try ZramFixtureTree()
        defer { tree.remove() }
        try tree.addModule()
        try tree.addDevice("zram1", disksize: 8192, mmStat: [8192, 100, 4096, 0, 4096, 1, 0, 0, 0], ioStat: [0, 0, 0, 7], maxCompStreams: 3)
        let device = KernelZramDevice(name: "zram1", root: tree.systemRoot)
        #expect(try device.disksize() == 8192)
        #expect(try device.read("initstate") == "1")
        #expect(try device.mmStat().comprDataSize == 100)
        #expect(try device.ioStat().notifyFree == 7)
        #expect(device.streams(onlineCPUs: 8) == 3)
        #expect(device.mountPoint() == nil && device.holders().isEmpty)
        try tree.write("/sys/block/zram1/disksize", "lots\n")
        #expect(throws: KernelZramError.malformed(path: device.attributePath("disksize"), text: "lots")) { try device.disksize() }
    }
}
