#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The machine's memory size, for pool limits given as a percentage of RAM (zswap's
/// `max_pool_percent` is a share of `totalram_pages()`).
public enum MemoryInfo {
    /// `MemTotal` from `/proc/meminfo` in bytes; where that file is missing, physical pages
    /// times the page size from `sysconf`.
    public static func totalBytes() -> Int {
        if let text = readFile("/proc/meminfo"), let total = memTotal(inMeminfo: text) { return total }
        return Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Parses the `MemTotal:  <n> kB` line of a `/proc/meminfo` text into bytes.
    public static func memTotal(inMeminfo text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix("MemTotal:") {
            let fields = line.dropFirst("MemTotal:".count).split(separator: " ", omittingEmptySubsequences: true)
            guard let value = fields.first.flatMap({ Int($0) }), value >= 0 else { return nil }
            let unit = fields.count > 1 ? fields[1].lowercased() : "kb"
            return unit == "kb" ? value * 1024 : value
        }
        return nil
    }

    private static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += chunk[..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
