#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
@testable import USwapCLI

/// Whether the environment asks tests to fail instead of skipping (CI=true).
private var runningInCI: Bool { getenv("CI").map { String(cString: $0) == "true" } ?? false }

/// /proc/meminfo as this machine's kernel (6.18) prints it, zswap holding pages.
private let meminfoText = """
    MemTotal:       24684112 kB
    MemFree:        22801436 kB
    MemAvailable:   24148340 kB
    Buffers:           48820 kB
    Cached:          1498236 kB
    SwapCached:         1024 kB
    Active:           663208 kB
    Inactive:         897856 kB
    SwapTotal:         65532 kB
    SwapFree:          12288 kB
    Zswap:             10532 kB
    Zswapped:          40960 kB
    Dirty:               124 kB
    AnonHugePages:         0 kB
    HugePages_Total:       0
    HugePages_Free:        0
    Hugepagesize:       2048 kB

    """

/// /proc/vmstat lines around zswap's counters, as this kernel prints them.
private let vmstatText = """
    nr_free_pages 5700359
    nr_zone_inactive_anon 12040
    pswpin 412
    pswpout 9101
    zswpin 344100
    zswpout 647898
    zswpwb 8670
    thp_fault_alloc 0

    """

/// A fake machine for the zswap session: zswap's parameters, /proc files, /var/tmp and a
/// cgroup v1 memory controller root, in a temporary directory. Nothing in it is the kernel's:
/// the cgroup root has the controller's files but a new cgroup gets none, so creating one fails
/// (the last step of a session), which is how the tests drive a full rollback.
private struct FakeMachine {
    let directory: String
    var root: SystemRoot { SystemRoot(prefix: directory) }
    var cgroupRoot: String { directory + "/cgroup/memory" }
    var parameters: ZswapParameters { ZswapParameters(root: root) }

    static let defaults = [
        "enabled": "N", "compressor": "lzo", "max_pool_percent": "20", "accept_threshold_percent": "90",
        "shrinker_enabled": "N",
    ]

    init(crypto: [String] = ["lzo", "lzo-rle", "deflate"], swaps: [String] = []) throws {
        var template = Array("/tmp/uswap-kzswap-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        directory = String(cString: try #require(made))
        for path in ["/sys/module/zswap/parameters", "/proc/sys/vm", "/var/tmp", "/cgroup/memory"] {
            try FileManager.default.createDirectory(atPath: directory + path, withIntermediateDirectories: true)
        }
        for (name, value) in Self.defaults { try write(value + "\n", to: "/sys/module/zswap/parameters/\(name)") }
        try write("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n" + swaps.map { "\($0) file 65532 0 -2\n" }.joined(), to: "/proc/swaps")
        try write(crypto.map { "name         : \($0)\ndriver       : \($0)-generic\nmodule       : kernel\n\n" }.joined(), to: "/proc/crypto")
        try write("3\n", to: "/proc/sys/vm/page-cluster")
        try write(vmstatText, to: "/proc/vmstat")
        try write(meminfoText, to: "/proc/meminfo")
        try write("9223372036854771712\n", to: "/cgroup/memory/memory.limit_in_bytes")
        try write("", to: "/cgroup/memory/cgroup.procs")
    }

    func write(_ text: String, to path: String) throws {
        try text.write(toFile: directory + path, atomically: false, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    /// Files in the fake /var/tmp.
    var swapDirectoryEntries: [String] { SysfsFile.list(directory + "/var/tmp") }
}

/// Records the swap switch's calls, and lets a test fail swapon.
private final class SwapSwitchSpy: Sendable {
    struct Call: Equatable {
        var on: Bool
        var path: String
        /// Size and mode of the file, and whether it ends with the swap signature, when swapon ran.
        var size: Int
        var mode: UInt32
        var signed: Bool
    }
    let calls = Mutex<[Call]>([])
    let failOn: Bool
    /// When set, swapoff fails and leaves the path listed in this fake /proc/swaps.
    let failOffListingIn: String?

    init(failOn: Bool = false, failOffListingIn: String? = nil) {
        self.failOn = failOn
        self.failOffListingIn = failOffListingIn
    }

    var swapSwitch: SwapSwitch {
        SwapSwitch(
            on: { [self] path in
                record(on: true, path)
                return failOn ? .failed("swapon \(path): Invalid argument (injected)") : nil
            },
            off: { [self] path in
                record(on: false, path)
                guard let procSwaps = failOffListingIn else { return nil }
                try? "Filename Type Size Used Priority\n\(path) file 8188 0 -2\n".write(toFile: procSwaps, atomically: false, encoding: .utf8)
                return .restoreFailed("swapoff \(path): Device or resource busy (injected)")
            })
    }

    private func record(on: Bool, _ path: String) {
        var info = stat()
        let found = stat(path, &info) == 0
        var signed = false
        if found, let handle = FileHandle(forReadingAtPath: path) {
            let page = handle.readData(ofLength: 4096)
            signed = page.count == 4096 && Array(page.suffix(10)) == Array("SWAPSPACE2".utf8)
            try? handle.close()
        }
        calls.withLock {
            $0.append(Call(on: on, path: path, size: found ? Int(info.st_size) : -1, mode: found ? info.st_mode & 0o777 : 0, signed: signed))
        }
    }
}

@Suite struct KernelZswapTests {
    // MARK: /proc parsers

    @Test func meminfoGivesZswapsPoolAndStoredBytes() throws {
        let figures = try #require(KernelZswapFigures.parse(meminfo: meminfoText))
        #expect(figures == KernelZswapFigures(poolBytes: 10532 * 1024, storedBytes: 40960 * 1024))
        let fields = KernelProcText.meminfo(meminfoText)
        #expect(fields["HugePages_Total"] == 0)  // no unit: the number as printed
        #expect(fields["Hugepagesize"] == 2048 * 1024)
        #expect(fields["SwapFree"] == 12288 * 1024)
    }

    @Test func meminfoWithoutZswapLinesGivesNothing() {
        let withoutZswap = meminfoText.split(separator: "\n").filter { !$0.hasPrefix("Zswap") }.joined(separator: "\n")
        #expect(KernelZswapFigures.parse(meminfo: withoutZswap) == nil)
        #expect(KernelZswapFigures.parse(meminfo: "Zswap: lots kB\nZswapped: 1 kB\n") == nil)
        #expect(KernelZswapFigures.parse(meminfo: "") == nil)
    }

    @Test func vmstatGivesZswapAndSwapCountersAndTheirDelta() throws {
        let before = try #require(KernelZswapCounters.parse(vmstat: vmstatText))
        #expect(before == KernelZswapCounters(stores: 647_898, loads: 344_100, writtenBack: 8670, deviceReads: 412, deviceWrites: 9101))
        let laterText = vmstatText.replacingOccurrences(of: "zswpwb 8670", with: "zswpwb 9000")
            .replacingOccurrences(of: "zswpout 647898", with: "zswpout 650000")
        let later = try #require(KernelZswapCounters.parse(vmstat: laterText))
        #expect(later.since(before) == KernelZswapCounters(stores: 2102, loads: 0, writtenBack: 330, deviceReads: 0, deviceWrites: 0))
        #expect(KernelZswapCounters.parse(vmstat: "pswpin 1\npswpout 2\n") == nil)  // a kernel without zswap
        #expect(KernelProcText.vmstat("zswpwb\nzswpin x\nzswpout 3 4\npswpin 5\n") == ["pswpin": 5])
    }

    @Test func proceduresReadTheFilesOfTheirRoot() throws {
        let machine = try FakeMachine()
        defer { machine.remove() }
        #expect(try KernelZswapFigures.read(root: machine.root).storedBytes == 40960 * 1024)
        #expect(try KernelZswapCounters.read(root: machine.root).writtenBack == 8670)
        try machine.write("MemTotal: 1 kB\n", to: "/proc/meminfo")
        #expect(throws: KernelSwapError.self) { _ = try KernelZswapFigures.read(root: machine.root) }
        #expect(throws: KernelSwapError.self) { _ = try KernelZswapCounters.read(root: SystemRoot(prefix: machine.directory + "/missing")) }
    }

    @Test func cryptoAlgorithmsAreTheNameLines() {
        let text = "name         : lzo\ndriver       : lzo-generic\n\nname         : deflate\ntype : acomp\n"
        #expect(ZswapParameters.cryptoAlgorithms(text) == ["lzo", "deflate"])
    }

    // MARK: The child's report

    @Test func zswapChildReportSurvivesItsJSONLineAndZramReportsHaveNoZswap() throws {
        var report = KernelChildReport(
            usPerTouch: 30.5, cpuUsPerTouch: 20.25, majorFaults: 1200, touchSeconds: 2, fillSeconds: 1,
            mmStat: nil, mmStatLine: "", verified: true, mismatches: 0,
            zswap: KernelZswapFigures(poolBytes: 10 << 20, storedBytes: 40 << 20))
        let childLine = try KernelChildReport(parsing: report.json.rendered)
        #expect(childLine == report)
        #expect(childLine.zswap?.storedBytes == 40 << 20 && childLine.zswap?.counters == KernelZswapCounters())
        // What the parent adds survives too.
        report.zswap?.counters = KernelZswapCounters(stores: 9000, loads: 7000, writtenBack: 12, deviceReads: 12, deviceWrites: 30)
        report.zswap?.compressor = "lzo"
        report.zswap?.compressorNote = "lz4 is not in this kernel's crypto API, so zswap compresses with lzo"
        report.zswap?.maxPoolPercent = 7
        let parsed = try KernelChildReport(parsing: "noise\n" + report.json.rendered + "\n")
        #expect(parsed == report)
        #expect(parsed.zswap?.writtenBackPages == 12)
        let summary = try #require(parsed.zswap?.summaryLine)
        #expect(summary.contains("compressor lzo (lz4 is not in this kernel's crypto API"))
        #expect(summary.contains("max_pool_percent 7") && summary.contains("12 pages written back"))
        // A zram child's line: no zswap figures.
        let zram = KernelChildReport(
            usPerTouch: 1, cpuUsPerTouch: 1, majorFaults: 1, touchSeconds: 1, fillSeconds: 1, mmStat: nil,
            mmStatLine: "1 2 3 0 3 0 0 0 0", verified: true, mismatches: 0)
        #expect(try KernelChildReport(parsing: zram.json.rendered).zswap == nil)
        #expect(zram.json.rendered.contains("zswap") == false)
    }

    @Test func touchPhaseCountersTravelApartFromTheWholeRunsCounters() throws {
        let touch = KernelZswapCounters(stores: 300, loads: 200, writtenBack: 5, deviceReads: 7, deviceWrites: 11)
        var zswap = KernelZswapReport(figures: KernelZswapFigures(poolBytes: 1 << 20, storedBytes: 4 << 20), touchCounters: touch)
        let members = zswap.jsonMembers
        #expect(members["zswap_touch_stores"] == .int(300) && members["swap_file_touch_writes"] == .int(11))
        #expect(members["zswap_stores"] == .int(0))
        zswap.counters = KernelZswapCounters(stores: 900, loads: 800, writtenBack: 9, deviceReads: 70, deviceWrites: 110)
        let report = KernelChildReport(
            usPerTouch: 1, cpuUsPerTouch: 1, majorFaults: 1, touchSeconds: 1, fillSeconds: 1, mmStat: nil,
            mmStatLine: "", verified: true, mismatches: 0)
        var withZswap = report
        withZswap.zswap = zswap
        let parsed = try KernelChildReport(parsing: withZswap.json.rendered)
        #expect(parsed.zswap?.touchCounters == touch)
        #expect(parsed.zswap?.counters.deviceReads == 70)
        #expect(parsed == withZswap)
        // A child that did not count its touch phase: no touch counters, not zeros.
        var untimed = report
        untimed.zswap = KernelZswapReport(figures: KernelZswapFigures(poolBytes: 1, storedBytes: 2))
        #expect(try KernelChildReport(parsing: untimed.json.rendered).zswap?.touchCounters == nil)
    }

    // MARK: Unavailable, without changing anything

    @Test func aMachineWithZswapAndNoSwapIsAvailable() throws {
        let machine = try FakeMachine()
        defer { machine.remove() }
        let reason = KernelSwapSession.unavailableReason(
            backing: .zswap(maxPoolPercent: 10), root: machine.root, cgroupRoot: machine.cgroupRoot, isRoot: true)
        #expect(reason == nil)
    }

    @Test func unavailableReasonsSayWhyAndChangeNothing() throws {
        let backing = KernelSwapBacking.zswap(maxPoolPercent: 10)
        func reason(_ machine: FakeMachine, isRoot: Bool = true, cgroupRoot: String? = nil) -> String? {
            KernelSwapSession.unavailableReason(
                backing: backing, root: machine.root, cgroupRoot: cgroupRoot ?? machine.cgroupRoot, isRoot: isRoot)
        }
        let machine = try FakeMachine()
        defer { machine.remove() }
        #expect(reason(machine, isRoot: false)?.contains("not root") == true)
        #expect(reason(machine, cgroupRoot: machine.directory + "/nowhere")?.contains("no cgroup v1 memory controller") == true)

        let swapping = try FakeMachine(swaps: ["/swapfile"])
        defer { swapping.remove() }
        #expect(reason(swapping)?.contains("swap already active (/swapfile)") == true)

        let noLZO = try FakeMachine(crypto: ["deflate"])
        defer { noLZO.remove() }
        #expect(reason(noLZO)?.contains("compressor lzo is not in the kernel's crypto API") == true)

        let noParameter = try FakeMachine()
        defer { noParameter.remove() }
        unlink(noParameter.parameters.path("max_pool_percent"))
        #expect(reason(noParameter)?.contains("max_pool_percent cannot be read") == true)

        let noZswap = try FakeMachine()
        defer { noZswap.remove() }
        try FileManager.default.removeItem(atPath: noZswap.directory + "/sys/module/zswap")
        #expect(reason(noZswap)?.contains("no zswap in this kernel") == true)
        #expect(throws: KernelSwapError.unavailable(reason(noZswap)!)) {
            _ = try KernelSwapSession.start(
                sizeBytes: 1 << 20, limitBytes: 1 << 20, backing: backing, root: noZswap.root,
                cgroupRoot: noZswap.cgroupRoot, registry: CleanupRegistry(), isRoot: true)
        }
        // Nothing was changed on any of them.
        for fake in [machine, swapping, noLZO, noParameter] {
            #expect(fake.parameters.snapshot().filter { $0.value != FakeMachine.defaults[$0.key] } == [:])
            #expect(fake.swapDirectoryEntries == [])
            #expect(SysfsFile.list(fake.cgroupRoot) == ["cgroup.procs", "memory.limit_in_bytes"])
        }
    }

    @Test(arguments: [0, 101, -5])
    func aPoolPercentOutside1To100IsRefusedBeforeAnyChange(percent: Int) throws {
        let machine = try FakeMachine()
        defer { machine.remove() }
        let spy = SwapSwitchSpy()
        #expect(throws: KernelSwapError.failed("zswap's max_pool_percent must be 1...100, got \(percent)")) {
            _ = try KernelSwapSession.start(
                sizeBytes: 1 << 20, limitBytes: 1 << 20, backing: .zswap(maxPoolPercent: percent), root: machine.root,
                cgroupRoot: machine.cgroupRoot, registry: CleanupRegistry(), isRoot: true, swapSwitch: spy.swapSwitch)
        }
        #expect(spy.calls.withLock { $0 } == [])
        #expect(machine.swapDirectoryEntries == [])
    }

    @Test func aSwapFileThatCannotFitIsUnavailable() {
        #expect(SwapFile.spaceProblem(directory: "/tmp", bytes: Int.max / 4)?.contains("MiB free") == true)
        #expect(SwapFile.spaceProblem(directory: "/nonexistent-uswap-dir", bytes: 4096)?.contains("cannot inspect") == true)
        #expect(SwapFile.spaceProblem(directory: "/tmp", bytes: 1 << 20) == nil)
    }

    @Test func swapFileNamesAreUniqueAndInTheirDirectory() {
        let a = SwapFile.uniquePath(in: "/var/tmp/", pid: 42)
        let b = SwapFile.uniquePath(in: "/var/tmp", pid: 42)
        #expect(a.hasPrefix("/var/tmp/uswap-kzswap-42-") && a.hasSuffix(".swap"))
        #expect(a != b)
    }

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

    @Test func countersAreRefusedWhenTheSwapsChangedDuringTheRun() {
        let file = "/var/tmp/uswap-kzswap-1-a.swap"
        #expect(KernelSwapSession.swapChangeProblem(activeSwaps: [file], swapFile: file) == nil)
        #expect(KernelSwapSession.swapChangeProblem(activeSwaps: [file, "/dev/zram0"], swapFile: file)?.contains("now: \(file), /dev/zram0") == true)
        #expect(KernelSwapSession.swapChangeProblem(activeSwaps: [], swapFile: file)?.contains("now: none") == true)
    }

    // MARK: Setup decisions

    @Test func theCompressorIsLZ4OnlyWhenTheCryptoAPIHasIt() throws {
        let without = try FakeMachine()
        defer { without.remove() }
        let kept = try KernelSwapSession.zswapSetup(
            sizeBytes: 8 << 20, maxPoolPercent: 5, root: without.root, directory: without.directory + "/var/tmp")
        #expect(kept.compressor == "lzo")
        #expect(kept.compressorNote == "lz4 is not in this kernel's crypto API, so zswap compresses with lzo")
        #expect(kept.swapFileBytes == 16 << 20 && kept.maxPoolPercent == 5)
        #expect(kept.swapFilePath.hasPrefix(without.directory + "/var/tmp/uswap-kzswap-"))
        #expect(kept.original == FakeMachine.defaults)

        let with = try FakeMachine(crypto: ["lzo", "lz4"])
        defer { with.remove() }
        let lz4 = try KernelSwapSession.zswapSetup(
            sizeBytes: 8 << 20, maxPoolPercent: 5, root: with.root, directory: with.directory + "/var/tmp")
        #expect(lz4.compressor == "lz4" && lz4.compressorNote.isEmpty)
    }

    // MARK: Start and roll back in a fake root

    /// The whole start sequence in a fake machine, up to the cgroup (which a fake controller
    /// cannot create): the swap file was made and swapped on as it should be, and the failure
    /// puts every parameter back, swaps off, removes the file and leaves no cgroup.
    @Test(arguments: [["lzo"], ["lzo", "lz4"]])
    func aFailureAfterEveryChangePutsTheMachineBack(crypto: [String]) throws {
        let machine = try FakeMachine(crypto: crypto)
        defer { machine.remove() }
        let spy = SwapSwitchSpy()
        let registry = CleanupRegistry()
        do {
            _ = try KernelSwapSession.start(
                sizeBytes: 4 << 20, limitBytes: 2 << 20, backing: .zswap(maxPoolPercent: 7), root: machine.root,
                cgroupRoot: machine.cgroupRoot, registry: registry, isRoot: true, swapSwitch: spy.swapSwitch)
            Issue.record("a fake cgroup controller cannot create a cgroup; start should have failed")
        } catch {
            guard case .failed(let message) = error else {
                Issue.record("expected .failed, got \(error)")
                return
            }
            #expect(message.contains("memory.limit_in_bytes"))
        }
        let calls = spy.calls.withLock { $0 }
        try #require(calls.count == 2)
        #expect(calls[0].on && !calls[1].on && calls[0].path == calls[1].path)
        #expect(calls[0].path.hasPrefix(machine.directory + "/var/tmp/uswap-kzswap-\(getpid())-"))
        #expect(calls[0].size == 8 << 20 && calls[0].mode == 0o600 && calls[0].signed)
        // Put back: parameters, page-cluster, the file, the cgroup, the registry.
        #expect(machine.parameters.snapshot() == FakeMachine.defaults)
        #expect(SysfsFile.readTrimmed(machine.directory + "/proc/sys/vm/page-cluster") == "3")
        #expect(machine.swapDirectoryEntries == [])
        #expect(SysfsFile.list(machine.cgroupRoot) == ["cgroup.procs", "memory.limit_in_bytes"])
        #expect(registry.pendingNames == [])
    }

    @Test func aFailedSwaponRemovesTheFileAndTouchesNoParameter() throws {
        let machine = try FakeMachine()
        defer { machine.remove() }
        let spy = SwapSwitchSpy(failOn: true)
        #expect(throws: KernelSwapError.self) {
            _ = try KernelSwapSession.start(
                sizeBytes: 4 << 20, limitBytes: 2 << 20, backing: .zswap(maxPoolPercent: 7), root: machine.root,
                cgroupRoot: machine.cgroupRoot, registry: CleanupRegistry(), isRoot: true, swapSwitch: spy.swapSwitch)
        }
        let calls = spy.calls.withLock { $0 }
        #expect(calls.count == 1 && calls.first?.on == true)  // no swapoff for a swapon that failed
        #expect(machine.swapDirectoryEntries == [])
        #expect(machine.parameters.snapshot() == FakeMachine.defaults)
        #expect(SysfsFile.readTrimmed(machine.directory + "/proc/sys/vm/page-cluster") == "3")
    }

    @Test func aSwapFileThatCouldNotBeSwappedOffIsLeftForSwapoff() throws {
        let machine = try FakeMachine()
        defer { machine.remove() }
        let spy = SwapSwitchSpy(failOffListingIn: machine.directory + "/proc/swaps")
        #expect(throws: KernelSwapError.self) {
            _ = try KernelSwapSession.start(
                sizeBytes: 4 << 20, limitBytes: 2 << 20, backing: .zswap(maxPoolPercent: 7), root: machine.root,
                cgroupRoot: machine.cgroupRoot, registry: CleanupRegistry(), isRoot: true, swapSwitch: spy.swapSwitch)
        }
        let calls = spy.calls.withLock { $0 }
        #expect(calls.map(\.on) == [true, false])
        // Still swap: the file stays (removing it would leave a swap no one can name); the
        // parameters were put back all the same.
        let entries = machine.swapDirectoryEntries
        #expect(entries.count == 1 && calls.first.map { $0.path.hasSuffix("/" + entries[0]) } == true)
        #expect(machine.parameters.snapshot() == FakeMachine.defaults)
    }

    @Test func leftoversNameEveryChangeStillInPlace() throws {
        let machine = try FakeMachine()
        defer { machine.remove() }
        let setup = try KernelSwapSession.zswapSetup(
            sizeBytes: 1 << 20, maxPoolPercent: 7, root: machine.root, directory: machine.directory + "/var/tmp")
        let cgroup = try MemoryCgroup(root: machine.cgroupRoot, name: "uswap-bench-1")
        #expect(KernelSwapSession.zswapLeftovers(root: machine.root, cgroup: cgroup, pageCluster: "3", setup: setup) == [])
        try setup.swapFilePath.withCString { path in try #require(creat(path, 0o600) >= 0) }
        try machine.parameters.write("Y", to: "enabled")
        try machine.write("0\n", to: "/proc/sys/vm/page-cluster")
        try machine.write("Filename Type Size Used Priority\n\(setup.swapFilePath) file 2044 0 -2\n", to: "/proc/swaps")
        #expect(mkdir(cgroup.path, 0o755) == 0)
        let problems = KernelSwapSession.zswapLeftovers(root: machine.root, cgroup: cgroup, pageCluster: "3", setup: setup)
        #expect(problems == [
            "swap still on: \(setup.swapFilePath)", "\(setup.swapFilePath) still exists", "zswap enabled is Y, was N",
            "\(cgroup.path) still exists", "page-cluster is 0, was 3",
        ])
    }
}

// MARK: - On the live machine

/// The live zswap tests nest in ``RealZram0Tests`` so they never overlap another test that
/// swaps (zram0 as swap) or touches zram0.
extension RealZram0Tests {
    @Suite struct KernelZswapLiveTests {
        /// Skips (printing why) or, under CI=true, fails when the live machine cannot run zswap.
        static func available(_ backing: KernelSwapBacking) -> Bool {
            guard let reason = KernelSwapSession.unavailableReason(backing: backing) else { return true }
            if runningInCI { Issue.record("kernel zswap unavailable under CI: \(reason)") }
            print("skipped: kernel zswap unavailable: \(reason)")
            return false
        }

        /// The machine state a zswap session must put back.
        struct MachineState: Equatable {
            var parameters: [String: String]
            var pageCluster: String?
            var swaps: [String]
            var ourSwapFiles: [String]

            static func now() -> MachineState {
                MachineState(
                    parameters: ZswapParameters(root: .live).snapshot(),
                    pageCluster: SysfsFile.readTrimmed("/proc/sys/vm/page-cluster"),
                    swaps: SwapSystemCalls.activeSwaps(),
                    ourSwapFiles: SysfsFile.list("/var/tmp").filter { $0.hasPrefix("uswap-kzswap-\(getpid())-") })
            }
        }

        /// A max_pool_percent different from the one found, so the test sees it change.
        static func otherPoolPercent() -> Int {
            SysfsFile.readTrimmed("/sys/module/zswap/parameters/max_pool_percent") == "7" ? 9 : 7
        }

        @Test func zswapSessionEnablesZswapOnASwapFileAndPutsEverythingBack() throws {
            let percent = Self.otherPoolPercent()
            guard Self.available(.zswap(maxPoolPercent: percent)) else { return }
            let before = MachineState.now()
            let session = try KernelSwapSession.start(
                sizeBytes: 16 << 20, limitBytes: 8 << 20, backing: .zswap(maxPoolPercent: percent))
            let setup = try #require(session.zswap)
            let during = MachineState.now()
            var info = stat()
            let found = stat(setup.swapFilePath, &info) == 0
            let limit = SysfsFile.readTrimmed(session.cgroup.limitPath)
            let restored = Result { () throws(KernelSwapError) in try session.restore() }
            // While it ran: zswap on with the asked pool, the file the only swap, page-cluster 0.
            #expect(during.parameters["enabled"] == "Y")
            #expect(during.parameters["max_pool_percent"] == String(percent))
            #expect(during.parameters["compressor"] == setup.compressor)
            #expect(setup.compressor == ZswapParameters.preferredCompressor || !setup.compressorNote.isEmpty)
            #expect(during.swaps == [setup.swapFilePath])
            #expect(setup.swapFilePath.hasPrefix("/var/tmp/uswap-kzswap-\(getpid())-"))
            #expect(found && Int(info.st_size) == 32 << 20 && info.st_mode & 0o777 == 0o600)
            #expect(Int(info.st_blocks) * 512 >= 32 << 20)  // allocated, no holes
            #expect(during.pageCluster == "0")
            #expect(limit == String(8 << 20))
            // Afterwards: exactly as before.
            if case .failure(let error) = restored { Issue.record("restore failed: \(error)") }
            #expect(MachineState.now() == before)
            #expect(before.swaps == [] && before.ourSwapFiles == [])
            #expect(!session.cgroup.exists)
            #expect(session.leftovers() == [])
            try session.restore()  // a second restore does nothing and finds nothing wrong
        }

        /// What SIGINT/SIGTERM/exit run is the cleanup registry alone: running it (not
        /// ``KernelSwapSession/restore()``) must put everything back, newest change first.
        @Test func theCleanupRegistryAloneRestoresTheMachineAsAnInterruptWould() throws {
            let percent = Self.otherPoolPercent()
            guard Self.available(.zswap(maxPoolPercent: percent)) else { return }
            let before = MachineState.now()
            let registry = CleanupRegistry()
            let session = try KernelSwapSession.start(
                sizeBytes: 8 << 20, limitBytes: 4 << 20, backing: .zswap(maxPoolPercent: percent), registry: registry)
            let setup = try #require(session.zswap)
            #expect(MachineState.now() != before)
            let ran = registry.runAll()  // what the signal thread and the atexit hook run
            var expected = ["cgroup \(session.cgroup.path)", "page-cluster \(before.pageCluster ?? "?")"]
            for name in ["enabled", "max_pool_percent", "compressor"] {
                let now = ["enabled": "Y", "max_pool_percent": String(percent), "compressor": setup.compressor][name]
                if let was = before.parameters[name], was != now { expected.append("zswap \(name) \(was)") }
            }
            expected += ["swapoff \(setup.swapFilePath)", "rm \(setup.swapFilePath)"]
            #expect(ran == expected)
            #expect(MachineState.now() == before)
            #expect(session.leftovers() == [])
            try session.restore()  // the normal path afterwards finds nothing left to do
        }

        /// `measure` end to end with a stand-in child (a shell that joins the cgroup, fills 48 MiB
        /// of compressible pages with USwapTestHelper under a 16 MiB limit, and reports meminfo's
        /// zswap lines): the pages went into zswap, the parent counted the stores, and the
        /// machine is restored.
        @Test func measureCountsZswapTrafficOfAChildInTheCgroup() throws {
            let percent = Self.otherPoolPercent()
            guard Self.available(.zswap(maxPoolPercent: percent)) else { return }
            guard let helper = BuiltProducts.path(of: "USwapTestHelper") else {
                if runningInCI { Issue.record("USwapTestHelper was not found beside the test binary") }
                print("skipped: USwapTestHelper was not found beside the test binary")
                return
            }
            let before = MachineState.now()
            let pages = 12_288
            let keys = [
                "us_per_touch", "cpu_us_per_touch", "major_faults", "touch_seconds", "fill_seconds", "zram_orig_data_size",
                "zram_compr_data_size", "zram_mem_used_total", "mismatches",
            ]
            let zeros = keys.map { "\\\"\($0)\\\":0" }.joined(separator: ",")
            let format = "{\(zeros),\\\"zram_mm_stat\\\":\\\"\\\",\\\"verified\\\":true,\\\"zswap_pool_bytes\\\":%.0f,\\\"zswapped_bytes\\\":%.0f,\\\"x_cgroup_usage\\\":%.0f,\\\"x_cgroup_kmem\\\":%.0f}\\n"
            var swapFile = ""
            var duringCompressor = ""
            var leftovers: [String] = ["restored was not called"]
            let outcome = KernelSwapSession.measure(
                sizeBytes: 64 << 20, limitBytes: 16 << 20, backing: .zswap(maxPoolPercent: percent), executable: "/bin/sh",
                arguments: { cgroupPath in
                    [
                        "-c",
                        "echo $$ > \(cgroupPath)/cgroup.procs || exit 3; "
                            + "'\(helper)' --text \(pages) --exit-after-ms 300 | { read ready || exit 4; "
                            + "u=$(cat \(cgroupPath)/memory.usage_in_bytes); k=$(cat \(cgroupPath)/memory.kmem.usage_in_bytes 2>/dev/null || echo 0); "
                            + "awk -v u=$u -v k=$k '/^Zswap:/ { p = $2 * 1024 } /^Zswapped:/ { s = $2 * 1024 } END { printf \"\(format)\", p, s, u, k }' /proc/meminfo; }",
                    ]
                },
                started: { session in
                    swapFile = session.zswap?.swapFilePath ?? ""
                    duringCompressor = SysfsFile.readTrimmed("/sys/module/zswap/parameters/compressor") ?? ""
                },
                restored: { session in leftovers = session.leftovers() })
            guard case .measured(let report) = outcome else {
                Issue.record("zswap measurement failed: \(outcome.summary)")
                return
            }
            let zswap = try #require(report.zswap)
            print("kernel zswap, \(pages) text pages in a 16 MiB cgroup: \(zswap.summaryLine); cgroup usage \(report.extra["cgroup_usage"] ?? -1), kmem \(report.extra["cgroup_kmem"] ?? -1)")
            // 48 MiB of text under a 16 MiB limit: most of it was stored in zswap, compressed.
            #expect(zswap.storedBytes >= 24 << 20, "Zswapped \(zswap.storedBytes)")
            #expect(zswap.poolBytes > 0 && zswap.poolBytes < zswap.storedBytes / 2, "pool \(zswap.poolBytes)")
            #expect(zswap.counters.stores >= 6144, "zswpout delta \(zswap.counters.stores)")
            #expect(zswap.counters.writtenBack >= 0 && zswap.counters.loads >= 0)
            #expect(zswap.maxPoolPercent == percent)
            #expect(zswap.compressor == duringCompressor && !zswap.compressor.isEmpty)
            #expect(zswap.compressor == ZswapParameters.preferredCompressor || zswap.compressorNote.contains(zswap.compressor))
            #expect(leftovers == [])
            #expect(!swapFile.isEmpty && !SysfsFile.exists(swapFile))
            #expect(MachineState.now() == before)
        }
    }
}

