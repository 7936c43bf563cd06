import SystemSupport

/// One line of `/proc/PID/maps`: a virtual memory area of a process.
public struct MemoryMapping: Sendable, Equatable {
    /// The first address.
    public var start: UInt
    /// One past the last address.
    public var end: UInt
    /// `rw-p` and friends.
    public var permissions: String
    /// The file offset (0 for anonymous memory).
    public var offset: UInt64
    /// The inode of the mapped file (0 for anonymous memory).
    public var inode: UInt64
    /// The file or pseudo path (`[heap]`, `[stack]`), empty for anonymous memory.
    public var path: String

    /// The size in bytes.
    public var size: UInt { end - start }

    /// A name for reports: the path, or `[anon]` for anonymous memory.
    public var name: String { path.isEmpty ? "[anon]" : path }

    /// Whether this is memory `uswap analyze` reads, exactly as the team's reference dumper
    /// (`shared/tools/dump_anon.py`) chooses it: readable and writable, and either anonymous
    /// (no path) or the `[heap]`. Stacks, named anonymous memory, file mappings (also private
    /// writable ones, whose pages are mostly clean file pages) and shared memory are left out.
    public var isAnalyzed: Bool {
        permissions.hasPrefix("rw") && (path.isEmpty || path == "[heap]")
    }

    /// Parses one line of `/proc/PID/maps`:
    /// `55d0c8a00000-55d0c8a21000 rw-p 00000000 00:00 0          [heap]`.
    public init?(line: Substring) {
        var fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)[...]
        guard fields.count >= 5 else { return nil }
        let range = fields.removeFirst().split(separator: "-")
        guard range.count == 2, let start = UInt(range[0], radix: 16), let end = UInt(range[1], radix: 16),
            start < end
        else { return nil }
        let permissions = String(fields.removeFirst())
        guard permissions.utf8.count == 4, let offset = UInt64(fields.removeFirst(), radix: 16) else { return nil }
        _ = fields.removeFirst()  // device
        guard let inode = UInt64(fields.removeFirst()) else { return nil }
        let path = fields.first.map { String($0.drop { $0 == " " }) } ?? ""
        self.init(start: start, end: end, permissions: permissions, offset: offset, inode: inode, path: path)
    }

    /// A mapping from its parts.
    public init(start: UInt, end: UInt, permissions: String, offset: UInt64 = 0, inode: UInt64 = 0, path: String) {
        self.start = start
        self.end = end
        self.permissions = permissions
        self.offset = offset
        self.inode = inode
        self.path = path
    }

    /// Parses the whole of `/proc/PID/maps`.
    public static func parse(maps text: String, pid: Int32) throws(ProcessMemoryError) -> [MemoryMapping] {
        var result: [MemoryMapping] = []
        for line in text.split(separator: "\n") where !line.isEmpty {
            guard let mapping = MemoryMapping(line: line) else {
                throw .malformedMaps(pid: pid, line: String(line))
            }
            result.append(mapping)
        }
        return result
    }

    /// The mappings of process `pid`, as `/proc/PID/maps` lists them.
    public static func read(pid: Int32) throws(ProcessMemoryError) -> [MemoryMapping] {
        let text: String
        do {
            text = try ProcFile.read("/proc/\(pid)/maps")
        } catch {
            throw ProcessMemoryError(errno: error, pid: pid, operation: "open /proc/\(pid)/maps", started: false)
        }
        // A process that exited but is not yet reaped (a zombie) has an empty maps file.
        if text.isEmpty { throw .noSuchProcess(pid: pid) }
        return try parse(maps: text, pid: pid)
    }
}
