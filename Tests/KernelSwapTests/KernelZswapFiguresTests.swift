import Foundation
import SystemPackage
import SystemSupport
import Testing

@testable import KernelSwap

@Suite struct KernelZswapFiguresTests {
    @Test func meminfoGivesZswapsPoolAndStoredBytes() throws {
        let figures = try #require(KernelZswapFigures.parse(meminfo: meminfoText))
        #expect(figures == KernelZswapFigures(poolBytes: 10532 * 1024, storedBytes: 40960 * 1024))
    }

    @Test func meminfoWithoutZswapLinesGivesNothing() {
        let withoutZswap = meminfoText.split(separator: "\n").filter { !$0.hasPrefix("Zswap") }.joined(separator: "\n")
        #expect(KernelZswapFigures.parse(meminfo: withoutZswap) == nil)
        #expect(KernelZswapFigures.parse(meminfo: "Zswap: lots kB\nZswapped: 1 kB\n") == nil)
        #expect(KernelZswapFigures.parse(meminfo: "") == nil)
    }

    @Test func figuresAreReadFromTheMeminfoOfTheirRoot() throws {
        let machine = try FakeMachine()
        defer { machine.remove() }
        #expect(try KernelZswapFigures.read(root: machine.root).storedBytes == 40960 * 1024)
        try machine.write("MemTotal: 1 kB\n", to: "/proc/meminfo")
        #expect(throws: KernelSwapError.self) { _ = try KernelZswapFigures.read(root: machine.root) }
    }
}
