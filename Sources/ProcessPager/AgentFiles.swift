import SystemSupport

/// Why the files a managed program needs were not found.
public enum AgentFilesError: Error, Equatable, CustomStringConvertible {
    /// libuswap-agent.so is not next to the executable.
    case agentMissing(directory: String)
    /// The allocator given with `--allocator` does not exist.
    case allocatorMissing(String)

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .agentMissing(let directory):
            "libuswap-agent.so is not next to uswap (in \(directory)): build it with `swift build --product uswap-agent` (with -c release for a release uswap; a plain `swift build` builds both), or install both side by side: install -m 755 .build/release/uswap .build/release/libuswap-agent.so /usr/local/bin/"
        case .allocatorMissing(let path):
            "the allocator \(path) does not exist: give the path of libmimalloc.so.2 (apt-get install libmimalloc2.0), or --allocator none"
        }
    }
}

/// The shared libraries `uswap run` preloads into the program: its agent, found next to the
/// `uswap` executable, and an allocator that takes all malloc traffic through mmap (Debian's
/// libmimalloc.so.2), since glibc's malloc calls brk and mmap internally where no preloaded
/// library can see them.
public struct AgentFiles: Sendable, Equatable {
    /// The agent library's path.
    public var agent: String
    /// The allocator library's path, or nil (glibc's malloc heap then stays unmanaged).
    public var allocator: String?

    /// The agent's file name.
    public static let agentName = "libuswap-agent.so"

    /// Where Debian and other distributions put libmimalloc.so.2.
    public static let allocatorCandidates = [
        "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2", "/usr/lib/aarch64-linux-gnu/libmimalloc.so.2",
        "/usr/lib64/libmimalloc.so.2", "/usr/lib/libmimalloc.so.2", "/usr/local/lib/libmimalloc.so.2",
    ]

    /// The files for a run: the agent next to `executable` (default: this process's own, from
    /// /proc/self/exe); the allocator at `allocator` ("none": no allocator; nil: the first of
    /// ``allocatorCandidates`` that exists).
    public static func locate(executable: String? = nil, allocator: String? = nil) throws(AgentFilesError) -> AgentFiles {
        let exe = executable ?? selfExecutable()
        let directory = exe.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let agent = (directory.isEmpty ? "." : directory) + "/" + agentName
        guard access(agent, R_OK) == 0 else { throw .agentMissing(directory: directory.isEmpty ? "." : directory) }
        switch allocator {
        case "none"?:
            return AgentFiles(agent: agent, allocator: nil)
        case let path?:
            guard access(path, R_OK) == 0 else { throw .allocatorMissing(path) }
            return AgentFiles(agent: agent, allocator: path)
        case nil:
            return AgentFiles(agent: agent, allocator: allocatorCandidates.first { access($0, R_OK) == 0 })
        }
    }

    /// This process's executable (readlink /proc/self/exe).
    public static func selfExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBufferPointer { readlink("/proc/self/exe", $0.baseAddress!, $0.count - 1) }
        guard n > 0 else { return CommandLine.arguments.first ?? "uswap" }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The LD_PRELOAD value: the agent first (its mmap wins over libc's), then the allocator (so
    /// the allocator's mmap calls reach the agent), then what `existing` already named.
    public func preload(existing: String?) -> String {
        var parts = [agent]
        if let allocator { parts.append(allocator) }
        if let existing, !existing.isEmpty { parts.append(existing) }
        return parts.joined(separator: " ")
    }
}
