import Foundation
import SystemPackage
import SystemSupport
import Testing

@testable import KernelSwap

@Suite struct KernelZramTests {
    @Test func theBenchmarkDisksizeMatchesKzram() {
        #expect(KernelZram.benchmarkDisksize(for: 67_117_056) == 1 << 30)
        #expect(KernelZram.benchmarkDisksize(for: (1 << 30) + 4096) == (1 << 30) + (1 << 20))
    }

    @Test func devicesAreFoundInNumericOrderAndTheModuleIsSeen() throws {
        let tree = try ZramFixtureTree()
        defer { tree.remove() }
        #expect(!KernelZram.moduleLoaded(root: tree.systemRoot))
        #expect(KernelZram.devices(root: tree.systemRoot).isEmpty)
        try tree.addModule()
        for name in ["zram10", "zram2", "zram0"] { try tree.addDevice(name) }
        try FileManager.default.createDirectory(atPath: tree.root + "/sys/block/vda", withIntermediateDirectories: true)
        #expect(KernelZram.moduleLoaded(root: tree.systemRoot))
        #expect(KernelZram.devices(root: tree.systemRoot).map(\.name) == ["zram0", "zram2", "zram10"])
        #expect(KernelZram.onlineCPUs() >= 1)
    }
}
