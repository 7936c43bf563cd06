import Foundation
import SystemSupport
import Testing

@testable import KernelSwap

@Suite struct KernelZramBenchmarkTests {
    @Test func aBusyDeviceIsReportedUnavailableAndLeftAlone() throws {
        let tree = try ZramFixtureTree()
        defer { tree.remove() }
        try tree.addModule()
        try tree.addDevice("zram0", disksize: 1 << 30)
        let pages = RealMachineTests.KernelZramSessionLiveTests.testPages(count: 4)
        let outcome = pages.withUnsafeBytes {
            KernelZramBenchmark.run(data: $0, pageSize: 4096, algorithm: "lz4", runs: 1, root: tree.systemRoot, registry: CleanupRegistry())
        }
        guard case .unavailable(let reason) = outcome else {
            Issue.record("a busy fixture device was measured")
            return
        }
        #expect(reason.contains(geteuid() == 0 ? "in use" : "not root"))
        #expect(try tree.read("/sys/block/zram0/disksize") == "\(1 << 30)\n")
        #expect(try tree.read("/sys/block/zram0/reset") == "")
    }

    @Test func theKernelsSlotTableIsSixteenBytesPerSlot() {
        let figures = KernelZramBenchmark.Figures(
            mmStat: KernelMMStat(), disksize: 1 << 30, writeSeconds: 1, readSeconds: 1, mismatches: 0, algorithm: "lz4")
        #expect(figures.slotTableBytes == (1 << 30) / 4096 * 16)
    }
}

/// The benchmark on the machine's real zram0.
extension RealMachineTests {
    @Suite struct KernelZramBenchmarkLiveTests {
        @Test func theKernelRunVerifiesEveryPageAndRestoresZram0() throws {
            guard RealMachineTests.zram0Available() else { return }
            let device = KernelZramDevice(name: "zram0", root: .live)
            let before = try device.algorithms().selected
            let pages = KernelZramSessionLiveTests.testPages(count: 512)
            let registry = CleanupRegistry()
            var runs: [Int] = []
            let outcome = pages.withUnsafeBytes {
                KernelZramBenchmark.run(data: $0, pageSize: 4096, algorithm: "lz4", runs: 2, registry: registry) { runs.append($0) }
            }
            guard case .measured(let kernel) = outcome else {
                Issue.record("kernel not measured: \(outcome)")
                return
            }
            #expect(kernel.mismatches == 0)
            #expect(kernel.mmStat.origDataSize == 512 * 4096)
            #expect(kernel.mmStat.samePages == 128)
            #expect(kernel.disksize == 1 << 30 && kernel.algorithm == "lz4")
            #expect(kernel.writeSeconds > 0 && kernel.readSeconds > 0)
            #expect(runs == [1, 2])
            #expect(try device.disksize() == 0)
            #expect(try device.algorithms().selected == before)
            #expect(registry.pendingNames.isEmpty)
        }
    }
}
