import SystemSupport

/// Why the files a managed program needs were not found.
public enum AgentFilesError: Error, Equatable, CustomStringConvertible {
    /// libuswap-agent.so is neither next to the executable nor in its resource bundle.
    case agentMissing(directory: String)
    /// The allocator given with `--allocator` does not exist.
    case allocatorMissing(String)

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .agentMissing(let directory):
            "libuswap-agent.so is neither in \(directory)/\(AgentFiles.bundleName) nor next to uswap (in \(directory)): building uswap builds it (swift build -c release --product uswap puts it in .build/release/\(AgentFiles.bundleName)); install both side by side: install -m 755 .build/release/uswap .build/release/\(AgentFiles.bundleName)/libuswap-agent.so /usr/local/bin/"
        case .allocatorMissing(let path):
            "the allocator \(path) does not exist: give the path of libmimalloc.so.2 (apt-get install libmimalloc2.0), or --allocator none"
        }
    }
}

/// The shared libraries `uswap run` preloads into the program: its agent, found in the built
/// executable's resource bundle or next to an installed `uswap`, and an allocator that takes all
/// malloc traffic through mmap (Debian's libmimalloc.so.2), since glibc's malloc calls brk and
/// mmap internally where no preloaded library can see them.
public struct AgentFiles: Sendable, Equatable {
    /// The agent library's path.
    public var agent: String
    /// The allocator library's path, or nil (glibc's malloc heap then stays unmanaged).
    public var allocator: String?

    /// The agent's file name.
    public static let agentName = "libuswap-agent.so"

    /// The resource bundle beside the built `uswap` where the package's BuildAgent plugin puts
    /// the agent (SwiftPM names it PACKAGE_TARGET.resources).
    public static let bundleName = "USwap_USwapCLI.resources"

    /// Where Debian and other distributions put libmimalloc.so.2.
    public static let allocatorCandidates = [
        "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2", "/usr/lib/aarch64-linux-gnu/libmimalloc.so.2",
        "/usr/lib64/libmimalloc.so.2", "/usr/lib/libmimalloc.so.2", "/usr/local/lib/libmimalloc.so.2",
    ]

    /// The files for a run: the agent in ``bundleName`` beside `executable` (a build; default
    /// executable: this process's own, from /proc/self/exe), else next to it (an install); the allocator at `allocator` ("none": no allocator; nil: the first of
    /// ``allocatorCandidates`` that exists).
    public static func locate(executable: String? = nil, allocator: String? = nil) throws(AgentFilesError) -> AgentFiles {
        let exe = executable ?? selfExecutable()
        let directory = exe.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let base = directory.isEmpty ? "." : directory
        let candidates = [base + "/" + bundleName + "/" + agentName, base + "/" + agentName]
        guard let agent = candidates.first(where: { access($0, R_OK) == 0 }) else { throw .agentMissing(directory: base) }
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
