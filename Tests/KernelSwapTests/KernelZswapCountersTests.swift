import Foundation
import SystemPackage
import SystemSupport
import Testing

@testable import KernelSwap

@Suite struct KernelZswapCountersTests {
    @Test func vmstatGivesZswapAndSwapCountersAndTheirDelta() throws {
        let before = try #require(KernelZswapCounters.parse(vmstat: vmstatText))
        #expect(before == KernelZswapCounters(stores: 647_898, loads: 344_100, writtenBack: 8670, deviceReads: 412, deviceWrites: 9101))
        let laterText = vmstatText.replacingOccurrences(of: "zswpwb 8670", with: "zswpwb 9000")
            .replacingOccurrences(of: "zswpout 647898", with: "zswpout 650000")
        let later = try #require(KernelZswapCounters.parse(vmstat: laterText))
        #expect(later.since(before) == KernelZswapCounters(stores: 2102, loads: 0, writtenBack: 330, deviceReads: 0, deviceWrites: 0))
        #expect(KernelZswapCounters.parse(vmstat: "pswpin 1\npswpout 2\n") == nil)  // a kernel without zswap
        #expect(KernelZswapCounters.vmstat("zswpwb\nzswpin x\nzswpout 3 4\npswpin 5\n") == ["pswpin": 5])
    }

    @Test func countersAreReadFromTheVmstatOfTheirRoot() throws {
        let machine = try FakeMachine()
        defer { machine.remove() }
        #expect(try KernelZswapCounters.read(root: machine.root).writtenBack == 8670)
        #expect(throws: KernelSwapError.self) { _ = try KernelZswapCounters.read(root: SystemRoot(prefix: machine.directory + "/missing")) }
    }
}
