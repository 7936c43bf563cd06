#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import USwapCLI

/// Whether the environment asks tests to fail instead of skipping (CI=true).
private var runningInCI: Bool { getenv("CI").map { String(cString: $0) == "true" } ?? false }

/// A fresh temporary directory, removed by the caller.
private func temporaryDirectory() throws -> String {
    var template = Array("/tmp/uswap-kswap-test-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    try #require(made != nil)
    return String(cString: made!)
}

/// Runs `path` with `arguments` and waits (not a fork of the test process: posix_spawn of a
/// separate program). Returns its exit status, or nil if it could not start.
private func runProgram(_ path: String, _ arguments: [String]) -> Int32? {
    let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    var pid: pid_t = 0
    guard posix_spawn(&pid, path, &actions, nil, argv, environ) == 0 else { return nil }
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return (status >> 8) & 0xFF
}

/// The `uswap` executable built beside this test binary.
func builtUSwapExecutable() -> String? {
    let me = KernelSwapSession.currentExecutable()
    var directory = me
    while let slash = directory.lastIndex(of: "/") {
        directory = String(directory[..<slash])
        let candidate = directory + "/uswap"
        if access(candidate, X_OK) == 0 { return candidate }
        if directory.hasSuffix("/debug") || directory.hasSuffix("/release") || directory.isEmpty { break }
    }
    return nil
}

/// Nested in ``RealZram0Tests`` (serialized): the live test swaps on zram0, which no other
/// zram0 or swap test may overlap.
extension RealZram0Tests {
    @Suite struct KernelSwapTests {
        @Test(arguments: [1 << 20, 64 << 20, 40960])
        func swapHeaderMatchesMkswapByteForByte(totalBytes: Int) throws {
            let candidates: [String] = ["/usr/sbin/mkswap", "/sbin/mkswap", "/usr/bin/mkswap"]
            let mkswap = candidates.first { path in access(path, X_OK) == 0 }
            let uuidText = "01234567-89ab-cdef-0123-456789abcdef"
            let uuid: [UInt8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]
            let ours = try SwapHeader.page(totalBytes: totalBytes, uuid: uuid)
            #expect(ours.count == 4096)
            #expect(Array(ours[4086...]) == Array("SWAPSPACE2".utf8))
            #expect(ours[1024] == 1 && ours[1025] == 0)
            let lastPage = UInt32(ours[1028]) | UInt32(ours[1029]) << 8 | UInt32(ours[1030]) << 16 | UInt32(ours[1031]) << 24
            #expect(Int(lastPage) == totalBytes / 4096 - 1)
            guard let mkswap else {
                print("skipped the mkswap comparison: no mkswap on this machine")
                return
            }
            let directory = try temporaryDirectory()
            defer { _ = unlink(directory + "/swap.img"); _ = rmdir(directory) }
            let file = directory + "/swap.img"
            let fd = open(file, O_CREAT | O_RDWR, 0o600)
            try #require(fd >= 0)
            try #require(ftruncate(fd, off_t(totalBytes)) == 0)
            close(fd)
            let status = runProgram(mkswap, ["-U", uuidText, file])
            #expect(status == 0, "mkswap failed")
            let readFD = open(file, O_RDONLY)
            defer { close(readFD) }
            var theirs = [UInt8](repeating: 0, count: 4096)
            let n = theirs.withUnsafeMutableBytes { pread(readFD, $0.baseAddress, 4096, 0) }
            #expect(n == 4096)
            #expect(ours == theirs)
        }

        @Test(arguments: [0, 4096 * 9, 4096 * 10 + 1])
        func swapHeaderRejectsAreasMkswapWouldReject(totalBytes: Int) {
            #expect(throws: KernelSwapError.self) { _ = try SwapHeader.page(totalBytes: totalBytes) }
        }

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
            let root = try temporaryDirectory()
            defer { _ = rmdir(root) }
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
            #expect(SysfsFile.readTrimmed(cgroup.procsPath) == "4242")
            for file in [cgroup.limitPath, cgroup.procsPath] { unlink(file) }
            try cgroup.remove()
            #expect(!cgroup.exists)
            try cgroup.remove()  // already gone: nothing to do
        }

        @Test func childReportSurvivesItsJSONLine() throws {
            let report = KernelChildReport(
                usPerTouch: 12.5, cpuUsPerTouch: 11.25, majorFaults: 225_900, touchSeconds: 3.75, fillSeconds: 1.5,
                mmStat: nil, mmStatLine: "780955648 305358464 333250560 0 333250560 0 0 10 26", verified: false,
                mismatches: 3, extra: ["lookups": 5000])
            let parsed = try KernelChildReport(parsing: "progress noise\n" + report.json.rendered + "\n")
            #expect(parsed == report)
            #expect(throws: KernelSwapError.self) { _ = try KernelChildReport(parsing: "no json here") }
            #expect(throws: KernelSwapError.self) { _ = try KernelChildReport(parsing: "{\"us_per_touch\": 1}") }
        }

        @Test func unavailableWithoutRootSaysWhy() {
            #expect(KernelSwapSession.unavailableReason(isRoot: false)?.contains("not root") == true)
        }

        /// End to end on the live machine: 64 MiB under a 16 MiB cgroup limit, 20,000 touches, then
        /// the machine must be exactly as before.
        @Test func kernelRunMeasuresVerifiesAndRestoresTheMachine() throws {
            if let reason = KernelSwapSession.unavailableReason() {
                if runningInCI { Issue.record("kernel swap unavailable under CI: \(reason)") }
                print("skipped: kernel swap unavailable: \(reason)")
                return
            }
            guard let executable = builtUSwapExecutable() else {
                if runningInCI { Issue.record("the uswap executable was not found beside the test binary") }
                print("skipped: the uswap executable was not found beside the test binary")
                return
            }
            let corpusPath = try temporaryDirectory()
            let file = corpusPath + "/corpus.bin"
            defer { _ = unlink(file); _ = rmdir(corpusPath) }
            let fd = open(file, O_CREAT | O_WRONLY, 0o600)
            var page = [UInt8](repeating: 0, count: 4096)
            for p in 0..<64 {
                for i in 0..<4096 { page[i] = UInt8(truncatingIfNeeded: (i / 8) &* p &+ i % 8) }
                _ = page.withUnsafeBytes { write(fd, $0.baseAddress, 4096) }
            }
            close(fd)
            let pageCluster = try #require(SysfsFile.readTrimmed("/proc/sys/vm/page-cluster"))
            let algorithm = try KernelZramDevice(name: "zram0", root: .live).algorithms().selected
            let bench = SwapBench(
                corpusPath: file, sizeMiB: 64, residentMiB: 16, touches: 20000, writePercent: 30, zipf: 0,
                policy: nil, threads: 1, memLimitMiB: nil)
            let outcome = bench.runKernel(progress: false, executable: executable)
            guard case .measured(let report) = outcome else {
                Issue.record("kernel run failed: \(outcome.summary)")
                return
            }
            #expect(report.verified && report.mismatches == 0)
            #expect(report.majorFaults > 1000)
            #expect(report.zramMemUsedTotal > 0)
            let cgroup = try MemoryCgroup(name: MemoryCgroup.benchName(pid: getpid()))
            #expect(KernelSwapSession.leftovers(cgroup: cgroup, pageCluster: pageCluster) == [])
            #expect(try KernelZramDevice(name: "zram0", root: .live).algorithms().selected == algorithm)
        }
    }
}
