import Foundation
import Synchronization
import SystemSupport
import Testing

@testable import KernelSwap

/// /proc/meminfo as this machine's kernel (6.18) prints it, zswap holding pages.
let meminfoText = """
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
let vmstatText = """
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
struct FakeMachine {
    let directory: String
    var root: SystemRoot { SystemRoot(prefix: directory) }
    var cgroupRoot: String { directory + "/cgroup/memory" }
    var parameters: ZswapParameters { ZswapParameters(root: root) }

    static let defaults = [
        "enabled": "N", "compressor": "lzo", "max_pool_percent": "20", "accept_threshold_percent": "90",
        "shrinker_enabled": "N",
    ]

    init(crypto: [String] = ["lzo", "lzo-rle", "deflate"], swaps: [String] = []) throws {
        directory = try TemporaryDirectory("kzswap").path
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
    var swapDirectoryEntries: [String] { Sysfs.list(directory + "/var/tmp") }
}

/// Records the swap switch's calls, and lets a test fail swapon.
final class SwapSwitchSpy: Sendable {
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
