// The same launcher as ProcessAnalysisTests' (test targets cannot share code but through a library).
import Foundation
import SystemSupport
import TestSupport
import Workloads

/// A running `USwapTestHelper`: known patterns in distinct anonymous mappings.
///
/// Started with Foundation's `Process` (the test process never forks); found through
/// TestSupport's ``BuiltProducts``. TestSupport's `HelperProcess.run` waits for a helper to end;
/// this one keeps it running while a test reads its memory. It prints
/// `ready pagesize=... zero=0xADDR:N ...` and waits for its stdin to close; ``stop()`` closes it
/// and waits for the exit.
final class PatternHelper {
    /// The helper's pid.
    let pid: Int32
    /// Pattern -> (start address, page count), as the helper reported them.
    let areas: [MemoryPattern: (address: UInt, pages: Int)]
    private let process: Process
    private let stdin: Pipe

    /// Starts the helper with `--NAME COUNT` arguments and waits for its ready line.
    init(_ counts: [MemoryPattern: Int], extra: [String] = []) throws {
        guard let path = BuiltProducts.path(of: "USwapTestHelper") else {
            throw HelperProcessError.notBuilt("USwapTestHelper")
        }
        process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = counts.sorted { $0.key.rawValue < $1.key.rawValue }.flatMap { ["--\($0.key.rawValue)", String($0.value)] } + extra
        stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        pid = process.processIdentifier
        var text = ""
        while !text.contains("\n") {
            let data = stdout.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        guard let line = text.split(separator: "\n").first, line.hasPrefix("ready") else {
            process.terminate()
            throw HelperError.noReadyLine(text)
        }
        var areas: [MemoryPattern: (address: UInt, pages: Int)] = [:]
        for field in line.split(separator: " ").dropFirst() {
            let parts = field.split(separator: "=")
            guard parts.count == 2, parts[1].hasPrefix("0x") else { continue }
            let value = parts[1].dropFirst(2).split(separator: ":")
            if value.count == 2, let pattern = MemoryPattern(rawValue: String(parts[0])), let address = UInt(value[0], radix: 16),
                let pages = Int(value[1])
            {
                areas[pattern] = (address, pages)
            }
        }
        self.areas = areas
    }

    /// Closes the helper's stdin and waits for it to exit.
    func stop() {
        try? stdin.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    /// Kills the helper (SIGKILL) and waits until it has exited.
    func kill() {
        _ = Glibc.kill(pid, SIGKILL)
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning { stop() }
    }

    /// Why the helper did not start.
    enum HelperError: Error {
        /// It printed something other than its ready line (the text).
        case noReadyLine(String)
    }
}

/// A pid no process has (searching down from the kernel's pid_max).
func unusedPid() throws -> Int32 {
    let max = Int32((try? ProcFile.readValue("/proc/sys/kernel/pid_max")) ?? "") ?? 32768
    for pid in stride(from: max - 1, to: 1000, by: -1) where Glibc.kill(pid, 0) != 0 && errno == ESRCH {
        return pid
    }
    throw PatternHelper.HelperError.noReadyLine("no unused pid")
}
