import CProcessPager
import SystemSupport

/// Finds the `uswap run`s alive on this machine and asks each for its figures.
///
/// Each run listens on an abstract Unix socket named `uswap-run.<pid>`; the kernel lists them in
/// /proc/net/unix and removes the name when the process ends, however it ends, so a crashed run
/// leaves nothing behind that could look alive.
public enum RunStatusClient {
    /// The prefix of every run's socket name.
    public static let namePrefix = "uswap-run."

    /// The socket names of the runs listening now, sorted by pid.
    public static func runningSocketNames() -> [String] {
        guard let text = try? ProcFile.read("/proc/net/unix") else { return [] }
        var names = Set<String>()
        for line in text.split(separator: "\n") {
            guard let path = line.split(separator: " ", omittingEmptySubsequences: true).last, path.hasPrefix("@" + namePrefix)
            else { continue }
            names.insert(String(path.dropFirst()))
        }
        return names.sorted { pid(of: $0) < pid(of: $1) }
    }

    /// The pid a socket name carries (0 when it has none).
    public static func pid(of name: String) -> Int {
        Int(name.dropFirst(namePrefix.count).prefix { $0.isNumber }) ?? 0
    }

    /// Asks the run listening on `name` for its status; nil when it does not answer within
    /// `timeoutMilliseconds`.
    public static func query(_ name: String, timeoutMilliseconds: Int32 = 1000) -> String? {
        let fd = uswap_connect_abstract(name)
        guard fd >= 0 else { return nil }
        defer { uswap_close(fd) }
        var request = uswap_header(type: USWAP_MSG_STATUS.rawValue, length: UInt32(MemoryLayout<uswap_header>.size), sequence: 0)
        guard uswap_send_message(fd, &request, MemoryLayout<uswap_header>.size, -1) == 0 else { return nil }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, timeoutMilliseconds) == 1 else { return nil }
        var reply = uswap_text()
        var passed: Int32 = -1
        let n = uswap_receive_message(fd, &reply, MemoryLayout<uswap_text>.size, &passed, 1)
        if passed >= 0 { uswap_close(passed) }
        guard n == Int64(MemoryLayout<uswap_text>.size), reply.header.type == USWAP_MSG_STATUS_REPLY.rawValue else { return nil }
        return withUnsafeBytes(of: &reply.text) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}
