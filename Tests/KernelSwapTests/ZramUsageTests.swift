import Foundation
import SystemPackage
import SystemSupport
import Testing

@testable import KernelSwap

@Suite struct ZramUsageTests {
    static let swapsWithZram0 = """
        Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority
        /dev/zram0                              partition\t4194300\t\t0\t\t100

        """
    static let swapsWithZram10 = """
        Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority
        /dev/zram10                             partition\t4194300\t\t0\t\t100
        /swapfile                               file\t\t1048572\t\t0\t\t-2

        """
    static let mountsWithZram1 = """
        /dev/vda / ext4 rw,relatime 0 0
        /dev/zram1 /mnt/scratch\\040space ext4 rw,relatime 0 0
        /dev/zram1 /srv/cache ext4 rw,relatime 0 0

        """

    @Test func anUnusedDeviceHasNoReasons() {
        let reasons = ZramUsage.inUseReasons(
            name: "zram0", disksize: 0, procSwaps: Self.swapsWithZram10, procMounts: Self.mountsWithZram1)
        #expect(reasons.isEmpty)
    }

    @Test func anInitializedDeviceIsInUse() {
        let reasons = ZramUsage.inUseReasons(name: "zram0", disksize: 1 << 30, procSwaps: "", procMounts: "")
        #expect(reasons == ["initialized (disksize 1073741824)"])
    }

    @Test func aSwapDeviceIsInUseAndPrefixesDoNotMatch() {
        #expect(ZramUsage.isSwap("/dev/zram0", procSwaps: Self.swapsWithZram0))
        #expect(!ZramUsage.isSwap("/dev/zram1", procSwaps: Self.swapsWithZram10))
        #expect(ZramUsage.isSwap("/dev/zram10", procSwaps: Self.swapsWithZram10))
        // The header line names no device, whatever it says.
        #expect(!ZramUsage.isSwap("Filename", procSwaps: Self.swapsWithZram0))
        let reasons = ZramUsage.inUseReasons(name: "zram0", disksize: 0, procSwaps: Self.swapsWithZram0, procMounts: "")
        #expect(reasons == ["swap in /proc/swaps"])
    }

    @Test func aMountedDeviceIsInUseWithEveryMountPointDecoded() {
        #expect(ZramUsage.mountPoints(of: "/dev/zram1", procMounts: Self.mountsWithZram1) == ["/mnt/scratch space", "/srv/cache"])
        let reasons = ZramUsage.inUseReasons(
            name: "zram1", disksize: 4096, procSwaps: "", procMounts: Self.mountsWithZram1, holders: ["dm-0"])
        #expect(reasons == ["initialized (disksize 4096)", "mounted on /mnt/scratch space", "mounted on /srv/cache", "held by dm-0"])
    }

    @Test(arguments: [("a\\040b", "a b"), ("tab\\011x", "tab\tx"), ("back\\134slash", "back\\slash"), ("end\\04", "end\\04"), ("bad\\089", "bad\\089")])
    func mountFieldEscapesAreDecoded(field: String, decoded: String) {
        #expect(ZramUsage.unescapeMountField(field) == decoded)
    }
}
