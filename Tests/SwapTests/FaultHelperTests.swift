#if os(Linux)
import Glibc
#endif
import Foundation
import Testing
import Swap

/// Finds an executable built beside the test bundle (the same lookup as USwapCLITests'
/// BuiltProducts): `USWAP_TEST_BIN_DIR`, the test binary's directory and its parent, then the
/// package's .build*/debug directories.
enum HelperExecutable {
    static func path(of name: String, filePath: String = #filePath) -> String? {
        var directories: [String] = []
        if let dir = ProcessInfo.processInfo.environment["USWAP_TEST_BIN_DIR"] { directories.append(dir) }
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append(parent(of: exe))
        }
        if let first = CommandLine.arguments.first, first.contains("/") {
            directories.append(parent(of: URL(fileURLWithPath: first).standardizedFileURL.path))
        }
        if let bundle = Bundle.main.executableURL?.deletingLastPathComponent().path { directories.append(bundle) }
        directories += directories.map(parent(of:))
        // #filePath: <root>/Tests/SwapTests/ThisFile.swift
        let root = parent(of: parent(of: parent(of: filePath)))
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: root) {
            for entry in entries.sorted() where entry.hasPrefix(".build") {
                directories.append("\(root)/\(entry)/debug")
                if let triples = try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(entry)") {
                    for triple in triples where triple.contains("-") { directories.append("\(root)/\(entry)/\(triple)/debug") }
                }
            }
        }
        for directory in directories {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    private static func parent(of path: String) -> String {
        URL(fileURLWithPath: path).deletingLastPathComponent().path
    }
}

/// How a helper process ended and what it printed.
struct HelperRun {
    /// The raw wait status.
    var status: Int32
    /// Standard output and standard error, interleaved.
    var output: String

    var signal: Int32? {
        let s = status & 0x7F
        return s != 0 && s != 0x7F ? s : nil
    }
    var exitCode: Int32? { status & 0x7F == 0 ? (status >> 8) & 0xFF : nil }

    /// The first line starting with `prefix`, as key=value fields.
    func fields(of prefix: String) -> [String: String]? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return nil }
        var result: [String: String] = [:]
        for field in line.split(separator: " ") {
            let parts = field.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
        }
        return result
    }
}

enum HelperError: Error, CustomStringConvertible {
    case notBuilt
    case spawn(Int32)
    var description: String {
        switch self {
        case .notBuilt: "USwapFaultHelper was not found beside the test bundle: build it (swift build --product USwapFaultHelper)"
        case .spawn(let e): "posix_spawn of USwapFaultHelper failed with errno \(e)"
        }
    }
}

/// Runs USwapFaultHelper with `arguments` through posix_spawn (no fork in this multithreaded
/// process), collects its output and its exact wait status.
func runFaultHelper(_ arguments: [String]) throws -> HelperRun {
    guard let path = HelperExecutable.path(of: "USwapFaultHelper") else { throw HelperError.notBuilt }
    var pipeEnds: [Int32] = [0, 0]
    guard pipe(&pipeEnds) == 0 else { throw HelperError.spawn(errno) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
    posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 2)
    posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
    posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
    // The Swift runtime's crash backtracer would print pages for the expected SIGBUS.
    var environment = ProcessInfo.processInfo.environment
    environment["SWIFT_BACKTRACE"] = "enable=no"
    let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for p in argv { free(p) }
        for p in envp { free(p) }
    }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
    close(pipeEnds[1])
    guard rc == 0 else {
        close(pipeEnds[0])
        throw HelperError.spawn(rc)
    }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(pipeEnds[0], $0.baseAddress, $0.count) }
        if n > 0 {
            bytes += chunk[0..<n]
        } else if n < 0 && errno == EINTR {
            continue
        } else {
            break
        }
    }
    close(pipeEnds[0])
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return HelperRun(status: status, output: String(decoding: bytes, as: UTF8.self))
}

/// A failed swap-in from the file tier ends the way the kernel ends it: the faulting access
/// raises SIGBUS, after the backend and the swap layer counted the failed reads and freed
/// nothing; a read that fails fewer times than the retries brings the page back.
@Suite(.serialized) struct FaultHelperTests {
    static let modes = ["signal", "handler-thread"]
    static let reads = ["inline", "io-threads:1"]

    @Test(arguments: modes, reads)
    func aFileReadThatAlwaysFailsKillsTheToucherWithSIGBUS(mode: String, reads: String) throws {
        guard userfaultfdAvailable() else { return }
        let run = try runFaultHelper(["fail-read", "--mode", mode, "--reads", reads, "--retries", "2"])
        let before = try #require(run.fields(of: "before:"), "helper printed: \(run.output)")
        #expect(before["location"] == "file")
        #expect(before["held"] == "1")
        #expect(before["failed_reads"] == "0")
        #expect(run.signal == SIGBUS, "status \(run.status), output: \(run.output)")
        #expect(run.fields(of: "after:") == nil, "the touch must not complete")
    }

    /// With a SIGBUS handler of its own installed before the region (the region forwards a
    /// fault it cannot serve to it), the helper reports the state after the failure.
    @Test(arguments: modes, reads)
    func afterTheSIGBUSNothingWasFreedAndEveryAttemptWasCounted(mode: String, reads: String) throws {
        guard userfaultfdAvailable() else { return }
        let run = try runFaultHelper(["fail-read", "--mode", mode, "--reads", reads, "--retries", "2", "--own-handler"])
        #expect(run.signal == SIGBUS, "status \(run.status), output: \(run.output)")
        let report = try #require(run.fields(of: "sigbus:"), "helper printed: \(run.output)")
        #expect(report["in_page"] == "1", "the SIGBUS names the touched page")
        #expect(report["failed_reads"] == "3")
        #expect(report["retries"] == "2")
        #expect(report["failed_faults"] == "1")
        #expect(report["backend_failed_reads"] == "3")
        #expect(report["injected"] == "3")
        #expect(report["still_swapped"] == "1")
        #expect(report["location"] == "file")
        #expect(report["swap_ins"] == "0")
        #expect(report["notify_free"] == "0")
    }

    @Test(arguments: modes, reads)
    func aReadThatFailsTwiceWithThreeRetriesBringsTheRightPage(mode: String, reads: String) throws {
        guard userfaultfdAvailable() else { return }
        let run = try runFaultHelper(["fail-read", "--mode", mode, "--reads", reads, "--retries", "3", "--failures", "2"])
        #expect(run.exitCode == 0, "status \(run.status), output: \(run.output)")
        let after = try #require(run.fields(of: "after:"), "helper printed: \(run.output)")
        #expect(after["value"] == "ok")
        #expect(after["retries"] == "2")
        #expect(after["failed_reads"] == "2")
        #expect(after["failed_faults"] == "0")
        #expect(after["slot_freed"] == "1")
        #expect(after[reads == "inline" ? "inline_file_reads" : "file_reads"] == "1")
    }

    @Test func aBadScenarioIsAUsageError() throws {
        let run = try runFaultHelper(["no-such-scenario"])
        #expect(run.exitCode == 2)
        #expect(run.output.contains("unknown scenario"))
    }
}
