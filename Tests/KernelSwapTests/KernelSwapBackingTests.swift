import Foundation
import SystemPackage
import SystemSupport
import Testing

@testable import KernelSwap

@Suite struct KernelSwapBackingTests {
    @Test func aPoolLimitInBytesBecomesTheSmallestPercentHoldingIt() throws {
        let gib = 1 << 30
        #expect(KernelSwapBacking.zswapPoolPercent(holding: gib, memTotalBytes: 10 * gib) == 10)
        #expect(KernelSwapBacking.zswapPoolPercent(holding: gib + 1, memTotalBytes: 10 * gib) == 11)
        #expect(KernelSwapBacking.zswapPoolPercent(holding: 1, memTotalBytes: 10 * gib) == 1)
        #expect(KernelSwapBacking.zswapPoolPercent(holding: 0, memTotalBytes: 10 * gib) == 1)
        #expect(KernelSwapBacking.zswapPoolPercent(holding: 20 * gib, memTotalBytes: 10 * gib) == 100)
        let machine = try FakeMachine()
        defer { machine.remove() }
        // MemTotal 24684112 kB: 256 MiB is 1.06%, so 2.
        #expect(try KernelSwapBacking.zswapPoolPercent(holding: 256 << 20, root: machine.root) == 2)
    }

    @Test func backingsNameThemselves() {
        #expect(KernelSwapBacking.zram.description == "zram")
        #expect(KernelSwapBacking.zswap(maxPoolPercent: 7).description == "zswap (max_pool_percent 7)")
    }
}
