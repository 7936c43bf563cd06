import Foundation

@testable import KernelSwap

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
