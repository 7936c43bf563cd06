import Foundation
import SystemPackage
import SystemSupport
import Testing

@testable import KernelSwap

@Suite struct KernelZramSessionTests {
    @Test func aSessionNeedsRoot() throws {
        let tree = try ZramFixtureTree()
        defer { tree.remove() }
        try tree.addModule()
        try tree.addDevice("zram0")
        #expect(throws: KernelZramError.unavailable("not root: configuring /dev/zram0 needs root")) {
            try KernelZramSession.acquire("zram0", root: tree.systemRoot, isRoot: false, registry: CleanupRegistry())
        }
    }

    @Test func aMissingDeviceSaysWhetherTheModuleIsLoaded() throws {
        let tree = try ZramFixtureTree()
        defer { tree.remove() }
        let registry = CleanupRegistry()
        do {
            _ = try KernelZramSession.acquire("zram0", root: tree.systemRoot, isRoot: true, registry: registry)
            Issue.record("acquired a device that does not exist")
        } catch {
            #expect(error.description.contains("module is not loaded"))
        }
        try tree.addModule()
        do {
            _ = try KernelZramSession.acquire("zram0", root: tree.systemRoot, isRoot: true, registry: registry)
            Issue.record("acquired a device that does not exist")
        } catch {
            #expect(error.description.contains("hot_add"))
        }
        #expect(registry.pendingNames.isEmpty)
    }

    @Test func aDeviceInUseIsLeftUntouched() throws {
        let tree = try ZramFixtureTree()
        defer { tree.remove() }
        try tree.addModule()
        try tree.addDevice("zram0", disksize: 0)
        try tree.write("/proc/swaps", ZramUsageTests.swapsWithZram0)
        let registry = CleanupRegistry()
        #expect(throws: KernelZramError.inUse(device: "zram0", reasons: ["swap in /proc/swaps"])) {
            try KernelZramSession.acquire("zram0", root: tree.systemRoot, isRoot: true, registry: registry)
        }
        #expect(try tree.read("/sys/block/zram0/reset") == "")
        #expect(try tree.read("/sys/block/zram0/comp_algorithm") == "lzo-rle lzo [lz4] \n")
        #expect(registry.pendingNames.isEmpty)
    }

    @Test func anUnavailableAlgorithmIsRefusedBeforeAnythingIsWritten() throws {
        let tree = try ZramFixtureTree()
        defer { tree.remove() }
        try tree.addModule()
        try tree.addDevice("zram0", algorithms: "[lzo-rle] lzo lz4 ")
        let registry = CleanupRegistry()
        let session = try KernelZramSession.acquire("zram0", root: tree.systemRoot, isRoot: true, registry: registry)
        #expect(session.originalAlgorithm == "lzo-rle")
        #expect(registry.pendingNames.count == 1)
        #expect(throws: KernelZramError.unsupportedAlgorithm(device: "zram0", requested: "zstd", available: ["lzo-rle", "lzo", "lz4"])) {
            try session.configure(algorithm: "zstd", disksize: 1 << 20)
        }
        #expect(try tree.read("/sys/block/zram0/reset") == "")
        try session.restore()
        #expect(try tree.read("/sys/block/zram0/reset") == "1\n")
        #expect(registry.pendingNames.isEmpty)
    }

    @Test func configureWritesResetAlgorithmAndDisksizeAndAFailedRestoreIsReported() throws {
        let tree = try ZramFixtureTree()
        defer { tree.remove() }
        try tree.addModule()
        try tree.addDevice("zram0", algorithms: "[lzo-rle] lzo lz4 ")
        let registry = CleanupRegistry()
        let session = try KernelZramSession.acquire("zram0", root: tree.systemRoot, isRoot: true, registry: registry)
        try session.configure(algorithm: "lz4", disksize: 1 << 20)
        #expect(try tree.read("/sys/block/zram0/reset") == "1\n")
        #expect(try tree.read("/sys/block/zram0/comp_algorithm") == "lz4\n")
        #expect(try tree.read("/sys/block/zram0/disksize") == "1048576\n")
        // A plain file does not reset like the kernel does: the restore must notice and say so.
        do {
            try session.restore()
            Issue.record("a restore that left disksize 1048576 reported success")
        } catch {
            #expect(error == .restoreFailed(device: "zram0", reason: "disksize is 1048576 after reset"))
        }
        #expect(try tree.read("/sys/block/zram0/comp_algorithm") == "lzo-rle\n")
        #expect(registry.pendingNames.isEmpty)
    }
}

extension RealMachineTests {
    @Suite struct KernelZramSessionLiveTests {
        /// Pages with known contents: compressible text-like pages, zero pages and random pages.
        static func testPages(count: Int) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: count * 4096)
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            for page in 0..<count {
                let base = page * 4096
                switch page % 4 {
                case 0: continue  // zero page
                case 1:
                    for i in 0..<4096 { bytes[base + i] = UInt8(truncatingIfNeeded: (i / 16 + page) % 26 + 97) }
                default:
                    for i in 0..<4096 {
                        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                        bytes[base + i] = UInt8(truncatingIfNeeded: state >> 56)
                    }
                }
            }
            return bytes
        }

        @Test func aConfiguredDeviceStoresPagesAndIsRestored() throws {
            guard RealMachineTests.zram0Available() else { return }
            let device = KernelZramDevice(name: "zram0", root: .live)
            let before = try device.algorithms().selected
            let registry = CleanupRegistry()
            let session = try KernelZramSession.acquire("zram0", registry: registry)
            defer { try? session.restore() }
            let other = try #require(session.availableAlgorithms.first { $0 != before })
            try session.configure(algorithm: other, disksize: 16 << 20)
            #expect(try device.disksize() == 16 << 20)
            #expect(try device.algorithms().selected == other)

            let pages = Self.testPages(count: 256)
            let io = try session.openBlockDevice()
            io.checkInvariants()
            try pages.withUnsafeBytes { data in
                let written = try io.write(data)
                #expect(written > .zero)
                let read = try io.read(byteCount: data.count)
                #expect(read > .zero)
                #expect(try io.mismatchedPages(comparing: data, pageSize: 4096) == 0)
            }
            session.closeBlockDevice(io)
            #expect(!io.isOpen)
            let stat = try device.mmStat()
            #expect(stat.origDataSize == 256 * 4096)
            #expect(stat.samePages == 64)
            #expect(stat.comprDataSize > 0 && stat.comprDataSize < 256 * 4096)

            try session.restore()
            #expect(try device.disksize() == 0)
            #expect(try device.algorithms().selected == before)
            #expect(registry.pendingNames.isEmpty)
        }

        @Test func aNonDefaultAlgorithmIsWrittenBackAfterTheResetClearsIt() throws {
            guard RealMachineTests.zram0Available() else { return }
            let device = KernelZramDevice(name: "zram0", root: .live)
            let found = try device.algorithms()
            defer { try? device.write(found.selected, to: "comp_algorithm") }
            // Start from an algorithm that is not the kernel's default (reset brings the default back).
            let nonDefault = try #require(found.available.last { $0 != found.available.first })
            try device.write(nonDefault, to: "comp_algorithm")
            let session = try KernelZramSession.acquire("zram0", registry: CleanupRegistry())
            try session.configure(algorithm: found.available[0], disksize: 4 << 20)
            try session.restore()
            #expect(try device.disksize() == 0)
            #expect(try device.algorithms().selected == nonDefault)
        }

        @Test func theCleanupPathRestoresADeviceThatIsStillOpen() throws {
            guard RealMachineTests.zram0Available() else { return }
            let device = KernelZramDevice(name: "zram0", root: .live)
            let before = try device.algorithms().selected
            let registry = CleanupRegistry()
            let session = try KernelZramSession.acquire("zram0", registry: registry)
            try session.configure(algorithm: "lz4", disksize: 8 << 20)
            let io = try session.openBlockDevice()
            let pages = Self.testPages(count: 64)
            _ = try pages.withUnsafeBytes { try io.write($0) }
            // What a signal does: run everything registered, with the device still open.
            let ran = registry.runAll()
            #expect(ran.count == 1)
            #expect(try device.disksize() == 0)
            #expect(try device.algorithms().selected == before)
            // The descriptor now points at /dev/null: the device is no longer held.
            #expect(io.isOpen)
            session.closeBlockDevice(io)
            try session.restore()  // already done: does nothing, throws nothing
            #expect(try device.disksize() == 0)
        }

        @Test func aDeviceInUseIsNeverTouched() throws {
            guard RealMachineTests.zram0Available() else { return }
            let device = KernelZramDevice(name: "zram0", root: .live)
            let before = try device.algorithms().selected
            let holder = try KernelZramSession.acquire("zram0", registry: CleanupRegistry())
            defer { try? holder.restore() }
            try holder.configure(algorithm: before, disksize: 4 << 20)
            // Initialized now: a second user must be refused and must change nothing.
            #expect(throws: KernelZramError.inUse(device: "zram0", reasons: ["initialized (disksize \(4 << 20))"])) {
                try KernelZramSession.acquire("zram0", registry: CleanupRegistry())
            }
            #expect(try device.disksize() == 4 << 20)
            try holder.restore()
            #expect(try device.disksize() == 0)
        }
    }
}
