import Foundation
import SystemPackage
import SystemSupport
import Testing

@testable import KernelSwap

/// A corpus of `pages` heap-like pages; with `noisy`, half of every page is pseudo-random so the
/// pages compress about 2:1 and a small zswap pool fills.
func writeCorpus(in directory: TemporaryDirectory, pages: Int, noisy: Bool = false) throws -> String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(pages * 4096)
    var page = [UInt64](repeating: 0, count: 512)
    for p in 0..<pages {
        for i in 0..<512 { page[i] = p % 5 == 4 ? 0 : UInt64(0x7F00_0000_0000) &+ UInt64(p * 512 + i % 37) }
        if noisy {
            var x = UInt64(p + 1) &* 0x9E37_79B9_7F4A_7C15
            for i in stride(from: 0, to: 512, by: 2) {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17
                page[i] = x
            }
        }
        page.withUnsafeBytes { bytes += $0 }
    }
    return try directory.file("corpus.bin", bytes)
}

/// The arguments that make the built `uswap` the kernel-side child of `bench swap`.
func uswapChildArguments(corpus: String, sizeMiB: Int, residentMiB: Int, touches: Int, backend: String, cgroupPath: String) -> [String] {
    [
        "bench", "swap", "--corpus", corpus, "--size", String(sizeMiB), "--resident", String(residentMiB),
        "--touches", String(touches), "--write-pct", "30", "--kernel-child-cgroup", cgroupPath, "--backend", backend,
    ]
}

@Suite struct KernelSwapSessionTests {
    @Test func unavailableWithoutRootSaysWhy() {
        #expect(KernelSwapSession.unavailableReason(isRoot: false)?.contains("not root") == true)
        #expect(KernelSwapSession.unavailableReason(backing: .zswap(maxPoolPercent: 5), isRoot: false)?.contains("not root") == true)
    }

    @Test func aMissingCgroupControllerIsUnavailableBeforeAnyChange() throws {
        let directory = try TemporaryDirectory("kswap")
        defer { directory.remove() }
        let reason = KernelSwapSession.unavailableReason(cgroupRoot: directory.path + "/nowhere", isRoot: true)
        #expect(reason?.contains("no cgroup v1 memory controller") == true)
        #expect(throws: KernelSwapError.unavailable(reason ?? "")) {
            _ = try KernelSwapSession.start(
                sizeBytes: 1 << 20, limitBytes: 1 << 20, cgroupRoot: directory.path + "/nowhere", registry: CleanupRegistry(),
                isRoot: true)
        }
    }

    @Test func theOutcomeSaysWhatHappenedInOneLine() {
        let report = KernelChildReport(
            usPerTouch: 12.345, cpuUsPerTouch: 1, majorFaults: 1, touchSeconds: 1, fillSeconds: 1, mmStat: nil, mmStatLine: "",
            verified: true, mismatches: 0)
        #expect(KernelOutcome.measured(report).description == "measured (12.35 us/touch)")
        #expect(KernelOutcome.notRequested.description == "not requested")
        #expect(KernelOutcome.unavailable("no zram0").description == "no zram0")
    }
}

/// The sessions on the live machine, with the built `uswap` as the child.
extension RealMachineTests {
    @Suite struct KernelSwapSessionLiveTests {
        /// End to end: 64 MiB under a 16 MiB cgroup limit, 20,000 touches by `uswap bench swap`'s
        /// kernel child, then the machine must be exactly as before.
        @Test func aZramRunMeasuresVerifiesAndRestoresTheMachine() throws {
            guard RealMachineTests.kernelSwapAvailable(.zram), let uswap = RealMachineTests.builtProduct("uswap") else { return }
            let directory = try TemporaryDirectory("kswap")
            defer { directory.remove() }
            let corpus = try writeCorpus(in: directory, pages: 64)
            let pageCluster = try #require(Sysfs.readValue("/proc/sys/vm/page-cluster"))
            let algorithm = try KernelZramDevice(name: "zram0", root: .live).algorithms().selected
            let outcome = KernelSwapSession.measure(
                sizeBytes: 64 << 20, limitBytes: 16 << 20, executable: uswap,
                arguments: { uswapChildArguments(corpus: corpus, sizeMiB: 64, residentMiB: 16, touches: 20000, backend: "zram", cgroupPath: $0) })
            guard case .measured(let report) = outcome else {
                Issue.record("kernel run failed: \(outcome)")
                return
            }
            #expect(report.verified && report.mismatches == 0)
            #expect(report.majorFaults > 1000)
            #expect(report.zramMemUsedTotal > 0 && report.zswap == nil)
            let cgroup = try MemoryCgroup(name: MemoryCgroup.benchName(pid: getpid()))
            #expect(KernelSwapSession.leftovers(cgroup: cgroup, pageCluster: pageCluster) == [])
            #expect(try KernelZramDevice(name: "zram0", root: .live).algorithms().selected == algorithm)
        }

        /// The kernel's zswap with the same pool percent as a user-space zswap run: the child
        /// counts its touch phase apart, the parent adds the compressor and the whole run's
        /// counters, and zswap, swap and the file are put back.
        @Test func aZswapRunReportsZswapsFiguresAndPutsTheMachineBack() throws {
            guard RealMachineTests.kernelSwapAvailable(.zswap(maxPoolPercent: 1)),
                let uswap = RealMachineTests.builtProduct("uswap")
            else { return }
            let enabledBefore = Sysfs.readValue("/sys/module/zswap/parameters/enabled")
            let percentBefore = Sysfs.readValue("/sys/module/zswap/parameters/max_pool_percent")
            let directory = try TemporaryDirectory("kswap")
            defer { directory.remove() }
            let corpus = try writeCorpus(in: directory, pages: 64, noisy: true)
            let file = "/var/tmp/uswap-kswap-\(getpid())-vs"
            let outcome = KernelSwapSession.measure(
                sizeBytes: 12 << 20, limitBytes: 3 << 20, backing: .zswap(maxPoolPercent: 1), executable: uswap,
                arguments: {
                    uswapChildArguments(corpus: corpus, sizeMiB: 12, residentMiB: 3, touches: 3000, backend: "zswap:\(file)", cgroupPath: $0)
                        + ["--pool-percent", "1"]
                })
            guard case .measured(let kernel) = outcome else {
                Issue.record("the kernel side was not measured: \(outcome)")
                return
            }
            let zswap = try #require(kernel.zswap, "a zswap run reports zswap's figures")
            #expect(zswap.touchCounters != nil, "the child counts its touch phase apart")
            #expect(zswap.maxPoolPercent == 1)
            #expect(!zswap.compressor.isEmpty)
            #expect(zswap.poolBytes > 0 && kernel.compressedBytes == zswap.poolBytes)
            #expect(kernel.verified)
            // Put back as found; the child ran on plain memory and made no file of its own.
            #expect(Sysfs.readValue("/sys/module/zswap/parameters/enabled") == enabledBefore)
            #expect(Sysfs.readValue("/sys/module/zswap/parameters/max_pool_percent") == percentBefore)
            #expect(SwapSystemCalls.activeSwaps().isEmpty)
            #expect(!Sysfs.exists(file))
        }
    }
}
