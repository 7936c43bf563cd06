import SystemPackage

/// Whole-file reads of the small text files under /proc and /sys, and their common formats.
///
/// These files are generated on each read and report a size of 0 or 4096, so they are read in
/// chunks until end of file rather than by their size.
public enum ProcFile {
    /// The bytes of the file at `path`; throws the `Errno` of the open or read that failed.
    public static func readBytes(_ path: String) throws(Errno) -> [UInt8] {
        let fd = try SystemCall.retrying { open(path, O_RDONLY | O_CLOEXEC) }
        defer { _ = close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = try SystemCall.retrying { chunk.withUnsafeMutableBytes { Platform.read(fd, $0.baseAddress, $0.count) } }
            if n == 0 { return bytes }
            bytes += chunk[..<n]
        }
    }

    /// The text of the file at `path` (UTF-8, invalid bytes replaced).
    public static func read(_ path: String) throws(Errno) -> String {
        String(decoding: try readBytes(path), as: UTF8.self)
    }

    /// The value of a one-value file (`disksize`, `page-cluster`, a module parameter): its text
    /// without the whitespace and newline around it.
    public static func readValue(_ path: String) throws(Errno) -> String {
        trimmed(try read(path))
    }

    /// `text` without the whitespace and newlines at either end (the kernel ends its values and
    /// lines with a newline and pads its counters with spaces).
    public static func trimmed(_ text: some StringProtocol) -> String {
        String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }

    /// Writes `text` to the file at `path` (a sysfs or procfs knob) in one `write`, as `echo` does
    /// (the file is opened with `O_TRUNC`, like a shell's `>`, so a regular file standing in for a
    /// knob in a test tree holds exactly `text` afterwards); throws the `Errno` the kernel returned
    /// (EBUSY from a zram0 in use, EINVAL for a value it refuses).
    public static func write(_ text: String, to path: String) throws(Errno) {
        let fd = try SystemCall.retrying { open(path, O_WRONLY | O_TRUNC | O_CLOEXEC) }
        defer { _ = close(fd) }
        let bytes = Array(text.utf8)
        let written = try SystemCall.retrying { bytes.withUnsafeBytes { Platform.write(fd, $0.baseAddress, $0.count) } }
        if written != bytes.count { throw Errno.ioError }
    }
}

/// `/proc/meminfo`.
public enum MemInfo {
    /// Every `Name:  <n> kB` line of a meminfo text as bytes by name (`Zswap: 1234 kB` gives
    /// `"Zswap": 1263616`); a line without a unit (`HugePages_Total: 0`) keeps its number.
    public static func parse(_ text: String) -> [String: Int] {
        var fields: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let parts = line[line.index(after: colon)...].split(separator: " ", omittingEmptySubsequences: true)
            guard let value = parts.first.flatMap({ Int($0) }), value >= 0 else { continue }
            let inKiB = parts.count > 1 && parts[1].lowercased() == "kb"
            fields[String(line[..<colon])] = inKiB ? value * 1024 : value
        }
        return fields
    }

    /// This machine's meminfo fields (see ``parse(_:)``); throws when /proc/meminfo cannot be read.
    public static func current() throws(Errno) -> [String: Int] {
        parse(try ProcFile.read("/proc/meminfo"))
    }

    /// The machine's memory in bytes: `MemTotal`, or physical pages times the page size where
    /// /proc/meminfo is missing (macOS).
    public static func totalBytes() -> Int {
        if let total = (try? current())?["MemTotal"] { return total }
        return Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
