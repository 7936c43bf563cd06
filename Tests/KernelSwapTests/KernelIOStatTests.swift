import Foundation
import SystemPackage
import SystemSupport
import Testing

@testable import KernelSwap

@Suite struct KernelIOStatTests {
    @Test func ioStatParsesTheKernelsLine() throws {
        let line = ZramFixtureTree.kernelIOStatLine([3, 1, 0, 4242])
        #expect(line == "       3        1 0     4242\n")
        let stat = try KernelIOStat(line: line)
        #expect(stat.values == [3, 1, 0, 4242])
        #expect(stat.notifyFree == 4242)
        #expect(throws: KernelZramError.self) { try KernelIOStat(line: "1 2 3") }
    }

    @Test func theCodedFormIsAnObjectKeyedByTheKernelsNames() throws {
        let stat = try KernelIOStat(line: "1 2 0 4")
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(stat)) as? [String: Int]
        #expect(object == ["failed_reads": 1, "failed_writes": 2, "invalid_io": 0, "notify_free": 4])
    }
}
