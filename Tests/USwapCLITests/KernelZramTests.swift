#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import USwapCLI

/// A temporary directory laid out like /sys, /proc and /dev, for tests of code that reads the
/// kernel's zram files. Removed by ``remove()``.
struct ZramFixtureTree {
    /// The tree's root (pass it as a ``SystemRoot`` prefix).
    let root: String

    /// An empty tree.
    init() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("uswap-zram-fixture-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        root = dir.path
        try write("/proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
        try write("/proc/mounts", "proc /proc proc rw,relatime 0 0\n/dev/vda / ext4 rw,relatime 0 0\n")
    }

    /// The tree as a ``SystemRoot``.
    var systemRoot: SystemRoot { SystemRoot(prefix: root) }

    /// Writes `text` to `path` (absolute inside the tree), creating directories.
    func write(_ path: String, _ text: String) throws {
        let url = URL(fileURLWithPath: root + path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: false, encoding: .utf8)
    }

    /// The text of `path` inside the tree.
    func read(_ path: String) throws -> String {
        try String(contentsOfFile: root + path, encoding: .utf8)
    }

    /// Adds the zram module's control directory.
    func addModule() throws {
        try FileManager.default.createDirectory(atPath: root + "/sys/class/zram-control", withIntermediateDirectories: true)
    }

    /// Adds device `name` with the kernel's file formats.
    func addDevice(
        _ name: String, algorithms: String = "lzo-rle lzo [lz4] ", disksize: Int = 0,
        mmStat: [Int] = Array(repeating: 0, count: 9), ioStat: [Int] = [0, 0, 0, 0], maxCompStreams: Int? = nil
    ) throws {
        let dir = "/sys/block/\(name)"
        try write("\(dir)/comp_algorithm", algorithms + "\n")
        try write("\(dir)/disksize", "\(disksize)\n")
        try write("\(dir)/initstate", disksize == 0 ? "0\n" : "1\n")
        try write("\(dir)/mm_stat", Self.kernelMMStatLine(mmStat))
        try write("\(dir)/io_stat", Self.kernelIOStatLine(ioStat))
        try write("\(dir)/reset", "")
        try FileManager.default.createDirectory(atPath: root + "\(dir)/holders", withIntermediateDirectories: true)
        if let maxCompStreams { try write("\(dir)/max_comp_streams", "\(maxCompStreams)\n") }
        try write("/dev/\(name)", "")
    }

    /// mm_stat as zram_drv.c prints it: `"%8llu %8llu %8llu %8lu %8ld %8llu %8lu %8llu %8llu\n"`.
    static func kernelMMStatLine(_ v: [Int]) -> String {
        v.map { String(repeating: " ", count: max(0, 8 - String($0).count)) + String($0) }.joined(separator: " ") + "\n"
    }

    /// io_stat as zram_drv.c prints it: `"%8llu %8llu 0 %8llu\n"` (invalid_io is a literal 0).
    static func kernelIOStatLine(_ v: [Int]) -> String {
        let p = { (x: Int) in String(repeating: " ", count: max(0, 8 - String(x).count)) + String(x) }
        return "\(p(v[0])) \(p(v[1])) \(v[2]) \(p(v[3]))\n"
    }

    /// Deletes the tree.
    func remove() { try? FileManager.default.removeItem(atPath: root) }
}

@Suite struct KernelZramParsingTests {
    @Test func mmStatParsesTheKernelsNineFieldLine() throws {
        let line = "67117056 25379356 27369472        0 27369472      698        0       15       15\n"
        let stat = try KernelMMStat(line: line)
        #expect(stat.origDataSize == 67_117_056)
        #expect(stat.comprDataSize == 25_379_356)
        #expect(stat.memUsedTotal == 27_369_472)
        #expect(stat.memLimit == 0)
        #expect(stat.memUsedMax == 27_369_472)
        #expect(stat.samePages == 698)
        #expect(stat.pagesCompacted == 0)
        #expect(stat.hugePages == 15)
        #expect(stat.hugePagesSince == 15)
    }

    @Test(arguments: [
        [4096, 100, 8192, 0, 8192, 1, 0],
        [4096, 100, 8192, 0, 8192, 1, 0, 3],
        [12288, 3000, 16384, 65536, 20480, 2, 5, 1, 7],
    ])
    func mmStatRoundTripsThroughTheKernelFormat(values: [Int]) throws {
        let line = ZramFixtureTree.kernelMMStatLine(values)
        let stat = try KernelMMStat(line: line)
        let expected = values + Array(repeating: 0, count: 9 - values.count)
        #expect(stat.values == expected)
        #expect(stat.namedFields.map(\.name) == KernelMMStat.fieldNames)
        if values.count == 9 { #expect(stat.line + "\n" == line) }
    }

    @Test(arguments: ["", "1 2 3", "a b c d e f g h i", "1 2 3 4 5 6 7 8 9 10", "1 2 3 4 5 -6 7 8 9"])
    func mmStatRejectsMalformedLines(line: String) {
        #expect(throws: KernelZramError.malformed(path: "mm_stat", text: line)) { try KernelMMStat(line: line) }
    }

    @Test func ioStatParsesTheKernelsLine() throws {
        let line = ZramFixtureTree.kernelIOStatLine([3, 1, 0, 4242])
        #expect(line == "       3        1 0     4242\n")
        let stat = try KernelIOStat(line: line)
        #expect(stat.values == [3, 1, 0, 4242])
        #expect(stat.notifyFree == 4242)
        #expect(throws: KernelZramError.self) { try KernelIOStat(line: "1 2 3") }
    }

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
}

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

@Suite struct KernelZramSessionFixtureTests {
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

    @Test func theBenchmarkDisksizeMatchesKzram() {
        #expect(KernelZram.benchmarkDisksize(for: 67_117_056) == 1 << 30)
        #expect(KernelZram.benchmarkDisksize(for: (1 << 30) + 4096) == (1 << 30) + (1 << 20))
    }
}

/// Every suite that touches the machine's real /dev/zram0 nests in this one, so they run one
/// test at a time (`.serialized` covers nested suites, also those declared in other files).
/// They skip (with the reason printed) when not root, without zram0, or when zram0 is in use;
/// under CI=true they fail instead.
@Suite(.serialized) struct RealZram0Tests {
    /// Why the real zram0 cannot be used, or nil when it can.
    static func unavailableReason() -> String? {
        guard geteuid() == 0 else { return "not root" }
        let device = KernelZramDevice(name: "zram0", root: .live)
        guard SysfsFile.exists(device.directory), SysfsFile.exists(device.devicePath) else { return "no /dev/zram0" }
        do {
            let reasons = try device.inUseReasons()
            if !reasons.isEmpty { return "zram0 is in use: \(reasons.joined(separator: ", "))" }
        } catch {
            return "zram0 unreadable: \(error)"
        }
        return nil
    }

    /// True when the test should go on; records a failure under CI=true, prints otherwise.
    static func deviceAvailable() -> Bool {
        guard let reason = unavailableReason() else { return true }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("kernel zram0 tests need root and an unused /dev/zram0: \(reason)")
        } else {
            print("skipped: kernel zram0 tests need root and an unused /dev/zram0: \(reason)")
        }
        return false
    }
}

extension RealZram0Tests {
    @Suite struct KernelZramDeviceTests {
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
            guard RealZram0Tests.deviceAvailable() else { return }
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
            guard RealZram0Tests.deviceAvailable() else { return }
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
            guard RealZram0Tests.deviceAvailable() else { return }
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
            guard RealZram0Tests.deviceAvailable() else { return }
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
