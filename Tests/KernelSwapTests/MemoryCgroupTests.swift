import Foundation
import SystemPackage
import SystemSupport
import TestSupport
import Testing

@testable import KernelSwap

@Suite struct MemoryCgroupTests {
    @Test func cgroupPathsAreBuiltUnderTheInjectedRoot() throws {
        let cgroup = try MemoryCgroup(root: "/x/memory/", name: MemoryCgroup.benchName(pid: 42))
        #expect(cgroup.path == "/x/memory/uswap-bench-42")
        #expect(cgroup.procsPath == "/x/memory/uswap-bench-42/cgroup.procs")
        #expect(cgroup.limitPath == "/x/memory/uswap-bench-42/memory.limit_in_bytes")
        #expect(try MemoryCgroup(name: "a").path == "/sys/fs/cgroup/memory/a")
    }

    @Test(arguments: ["", ".", "..", "a/b", "../etc"])
    func cgroupNamesThatAreNotOneComponentAreRejected(name: String) {
        #expect(throws: KernelSwapError.self) { _ = try MemoryCgroup(root: "/tmp", name: name) }
    }

    @Test func cgroupIsCreatedWithItsLimitJoinedAndRemovedInAFakeRoot() throws {
        let directory = try TemporaryDirectory("cgroup")
        defer { directory.remove() }
        let root = directory.path
        #expect(MemoryCgroup.unavailableReason(root: root) != nil)  // no controller files here
        #expect(MemoryCgroup.unavailableReason(root: root + "/missing")?.contains("no cgroup v1") == true)
        let cgroup = try MemoryCgroup(root: root, name: "uswap-bench-test")
        // A fake controller: the kernel makes these files appear in a new cgroup; here we
        // create the limit file ourselves after mkdir fails to find it.
        #expect(throws: KernelSwapError.self) { try cgroup.create(limitBytes: 16 << 20) }
        #expect(!cgroup.exists)  // a failed create leaves nothing behind
        #expect(mkdir(cgroup.path, 0o755) == 0)
        for file in [cgroup.limitPath, cgroup.procsPath] { close(open(file, O_CREAT | O_WRONLY, 0o644)) }
        try cgroup.join(pid: 4242)
        #expect(Sysfs.readValue(cgroup.procsPath) == "4242")
        for file in [cgroup.limitPath, cgroup.procsPath] { unlink(file) }
        try cgroup.remove()
        #expect(!cgroup.exists)
        try cgroup.remove()  // already gone: nothing to do
    }


    @Test func aCgroupIsNamedByItsPath() throws {
        let cgroup = try MemoryCgroup(path: "/sys/fs/cgroup/memory/uswap-bench-7")
        #expect(cgroup.root == "/sys/fs/cgroup/memory" && cgroup.name == "uswap-bench-7")
        #expect(try MemoryCgroup(path: "/top").path == "/top")
        #expect(throws: KernelSwapError.self) { _ = try MemoryCgroup(path: "/") }
    }

    @Test func thePeakIsResetByWritingZeroAndReadAsBytes() throws {
        let directory = try TemporaryDirectory("cgroup-peak")
        defer { directory.remove() }
        let cgroup = try MemoryCgroup(root: directory.path, name: "uswap-bench-peak")
        #expect(cgroup.peakPath == "\(cgroup.path)/memory.max_usage_in_bytes")
        #expect(mkdir(cgroup.path, 0o755) == 0)
        // No peak file (not a v1 memory cgroup): unavailable, never 0.
        #expect(throws: KernelSwapError.self) { _ = try cgroup.peakBytes() }
        guard case .failure = CgroupPeakWindow.start(cgroup).peak() else {
            Issue.record("a peak that could not be reset must be unavailable")
            return
        }
        _ = try directory.file("uswap-bench-peak/memory.max_usage_in_bytes", Array("123456789\n".utf8))
        #expect(try cgroup.peakBytes() == 123_456_789)
        let window = CgroupPeakWindow.start(cgroup)
        #expect(Sysfs.readValue(cgroup.peakPath) == "0", "the reset writes 0")
        _ = try directory.file("uswap-bench-peak/memory.max_usage_in_bytes", Array("4096\n".utf8))
        #expect(try window.peak().get() == 4096)
        _ = try directory.file("uswap-bench-peak/memory.max_usage_in_bytes", Array("lots\n".utf8))
        #expect(throws: KernelSwapError.self) { _ = try cgroup.peakBytes() }
        unlink(cgroup.peakPath)
        try cgroup.remove()
    }
}

extension RealMachineTests {
    /// The kernel's own counter: page cache a process read into the cgroup before the timed
    /// phase is dropped and the peak reset, so it does not count in the window.
    @Suite struct CgroupPeakWindowTests {
        @Test func pageCacheReadBeforeTheWindowDoesNotCountInItsPeak() async throws {
            guard geteuid() == 0 else {
                CIGate.unavailable("root, to make a memory cgroup")
                return
            }
            if let reason = MemoryCgroup.unavailableReason() {
                CIGate.unavailable("a cgroup v1 memory controller: \(reason)")
                return
            }
            let cgroup = try MemoryCgroup(name: "uswap-peak-test-\(getpid())")
            try cgroup.create(limitBytes: 1 << 30)
            defer { try? cgroup.remove() }
            let file = "\(SwapFile.defaultDirectory)/uswap-peak-test-\(getpid()).bin"  // a disk: tmpfs pages cannot be dropped
            defer { unlink(file) }
            // A shell in the cgroup writes 32 MiB and reads them back: page cache charged to it.
            let run = try await HelperProcess.run(path: "/bin/sh", [
                "-c", "echo $$ > '\(cgroup.procsPath)' && head -c 33554432 /dev/urandom > '\(file)' && cat '\(file)' > /dev/null && echo done=1",
            ])
            #expect(run.output.contains("done=1"), "\(run.output)")
            #expect(try cgroup.peakBytes() >= 32 << 20, "the whole run's peak holds the file's cache")
            let window = CgroupPeakWindow.start(cgroup, droppingCacheOf: [file])
            let peak = try window.peak().get()
            #expect(peak < 8 << 20, "the window's peak is \(peak) bytes: the cache read before it must not count")
        }
    }
}
