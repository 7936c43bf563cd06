import Foundation
import SystemPackage
import SystemSupport
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
}
