import Foundation
import SystemPackage
import SystemSupport
import Testing

@testable import KernelSwap

@Suite struct KernelSwapSessionZswapTests {
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
            #expect(Sysfs.list(fake.cgroupRoot) == ["cgroup.procs", "memory.limit_in_bytes"])
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
        #expect(Sysfs.readValue(machine.directory + "/proc/sys/vm/page-cluster") == "3")
        #expect(machine.swapDirectoryEntries == [])
        #expect(Sysfs.list(machine.cgroupRoot) == ["cgroup.procs", "memory.limit_in_bytes"])
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
        #expect(Sysfs.readValue(machine.directory + "/proc/sys/vm/page-cluster") == "3")
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

/// The live zswap tests nest in ``RealMachineTests`` so they never overlap another test that
/// swaps (zram0 as swap) or touches zram0.
extension RealMachineTests {
    @Suite struct KernelZswapLiveTests {
        /// Skips (printing why) or, under CI=true, fails when the live machine cannot run zswap.
        static func available(_ backing: KernelSwapBacking) -> Bool { RealMachineTests.kernelSwapAvailable(backing) }

        /// The machine state a zswap session must put back.
        struct MachineState: Equatable {
            var parameters: [String: String]
            var pageCluster: String?
            var swaps: [String]
            var ourSwapFiles: [String]

            static func now() -> MachineState {
                MachineState(
                    parameters: ZswapParameters(root: .live).snapshot(),
                    pageCluster: Sysfs.readValue("/proc/sys/vm/page-cluster"),
                    swaps: SwapSystemCalls.activeSwaps(),
                    ourSwapFiles: Sysfs.list("/var/tmp").filter { $0.hasPrefix("uswap-kzswap-\(getpid())-") })
            }
        }

        /// A max_pool_percent different from the one found, so the test sees it change.
        static func otherPoolPercent() -> Int {
            Sysfs.readValue("/sys/module/zswap/parameters/max_pool_percent") == "7" ? 9 : 7
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
            let limit = Sysfs.readValue(session.cgroup.limitPath)
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
            guard let helper = RealMachineTests.builtProduct("USwapTestHelper") else { return }
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
                    duringCompressor = Sysfs.readValue("/sys/module/zswap/parameters/compressor") ?? ""
                },
                restored: { session in leftovers = session.leftovers() })
            guard case .measured(let report) = outcome else {
                Issue.record("zswap measurement failed: \(outcome)")
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
            #expect(!swapFile.isEmpty && !Sysfs.exists(swapFile))
            #expect(MachineState.now() == before)
        }
    }
}
