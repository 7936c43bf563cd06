import Foundation
import PageCodecs
import Testing

@testable import USwapCLI

#if os(Linux)
import Glibc
#endif

/// Finds an executable built beside the test bundle (`USwapTestHelper`, `uswap`), for
/// `swift test` with the default or a custom `--scratch-path`.
///
/// Looks in the directory of the running test binary (`/proc/self/exe`, then
/// `CommandLine.arguments[0]`, then `Bundle.main`), then in every `.build*/*/debug` and
/// `.build*/debug` under the package root found from `#filePath`. `USWAP_TEST_BIN_DIR`
/// overrides all of that.
enum BuiltProducts {
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
        // The test binary may sit inside an .xctest bundle directory.
        directories += directories.map(parent(of:))
        // #filePath: <root>/Tests/USwapCLITests/ThisFile.swift
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

/// A running `USwapTestHelper`: known patterns in distinct anonymous mappings.
///
/// Started with Foundation's `Process` (the test process never forks). It prints
/// `ready pagesize=... zero=0xADDR:N ...` and waits for its stdin to close; ``stop()`` closes it
/// and waits for the exit.
final class HelperProcess {
    /// The helper's pid.
    let pid: Int32
    /// Pattern name -> (start address, page count), as the helper reported them.
    let areas: [String: (address: UInt, pages: Int)]
    private let process: Process
    private let stdin: Pipe

    /// Starts the helper with `--NAME COUNT` arguments and waits for its ready line.
    init(_ counts: [String: Int], extra: [String] = []) throws {
        guard let path = BuiltProducts.path(of: "USwapTestHelper") else {
            throw HelperError.notBuilt
        }
        process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = counts.sorted { $0.key < $1.key }.flatMap { ["--\($0.key)", String($0.value)] } + extra
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
        var areas: [String: (address: UInt, pages: Int)] = [:]
        for field in line.split(separator: " ").dropFirst() {
            let parts = field.split(separator: "=")
            guard parts.count == 2, parts[1].hasPrefix("0x") else { continue }
            let value = parts[1].dropFirst(2).split(separator: ":")
            if value.count == 2, let address = UInt(value[0], radix: 16), let pages = Int(value[1]) {
                areas[String(parts[0])] = (address, pages)
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

    enum HelperError: Error {
        case notBuilt
        case noReadyLine(String)
    }
}

/// The text pattern the helper writes: one sentence repeated.
let helperSentence = Array("The quick brown fox jumps over the lazy dog while the zram pool counts its pages. ".utf8)

@Suite("Process memory: maps, pagemap and page readers")
struct ProcessMemoryTests {
    @Test(
        "maps lines parse into mappings and are chosen exactly as dump_anon.py chooses them",
        arguments: [
            ("55d0c8a00000-55d0c8a21000 rw-p 00000000 00:00 0          [heap]", "[heap]", true),
            ("7f0000000000-7f0000004000 rw-p 00000000 00:00 0 ", "[anon]", true),
            ("7f0000000000-7f0000004000 rw-s 00000000 00:00 0 ", "[anon]", true),
            ("7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0          [stack]", "[stack]", false),
            ("7f0000000000-7f0000001000 rw-p 0001b000 fe:00 1234       /usr/lib/libc.so.6", "/usr/lib/libc.so.6", false),
            ("7f0000000000-7f0000001000 r--p 00000000 00:00 0 ", "[anon]", false),
            ("7f0000000000-7f0000001000 ---p 00000000 00:00 0 ", "[anon]", false),
            ("7f0000000000-7f0000001000 rw-p 00000000 00:00 0          [anon:glibc]", "[anon:glibc]", false),
            ("7f0000000000-7f0000001000 rw-s 00000000 00:01 99         /dev/zero (deleted)", "/dev/zero (deleted)", false),
        ])
    func mapsLinesParseAndSelect(line: String, name: String, analyzed: Bool) throws {
        let mapping = try #require(MemoryMapping(line: Substring(line)))
        #expect(mapping.name == name)
        #expect(mapping.isAnalyzed == analyzed)
        #expect(mapping.start < mapping.end)
        #expect(mapping.size == mapping.end - mapping.start)
    }

    @Test("a path with spaces is kept whole")
    func pathWithSpaces() throws {
        let mapping = try #require(MemoryMapping(line: "1000-2000 r--p 00000000 fe:00 7    /tmp/a b/c d.so"))
        #expect(mapping.path == "/tmp/a b/c d.so")
        #expect(mapping.inode == 7)
    }

    @Test("a malformed maps file is a clear error, not a crash")
    func malformedMaps() {
        #expect(throws: ProcessMemoryError.malformedMaps(pid: 5, line: "zz-1000 rw-p")) {
            try MemoryMapping.parse(maps: "1000-2000 rw-p 00000000 00:00 0\nzz-1000 rw-p\n", pid: 5)
        }
        #expect(MemoryMapping(line: "2000-1000 rw-p 00000000 00:00 0") == nil)
    }

    @Test(
        "pagemap entries decode to present, swapped and not present",
        arguments: [
            (UInt64(1) << 63 | 0x1234, PageResidency.present),
            (UInt64(1) << 62 | 0x55, PageResidency.swapped),
            (UInt64(0), PageResidency.notPresent),
            (UInt64(1) << 55, PageResidency.notPresent),
        ])
    func pagemapDecoding(entry: UInt64, residency: PageResidency) {
        #expect(PageResidency(pagemapEntry: entry) == residency)
    }

    @Test(
        "errno values map to errors a user can act on",
        arguments: [
            (ESRCH, false, ProcessMemoryError.noSuchProcess(pid: 42)),
            (ENOENT, false, .noSuchProcess(pid: 42)),
            (ESRCH, true, .processExited(pid: 42)),
            (EPERM, true, .permissionDenied(pid: 42, operation: "op")),
            (EACCES, false, .permissionDenied(pid: 42, operation: "op")),
            (EIO, true, .systemError(pid: 42, operation: "op", errno: EIO)),
        ])
    func errnoMapping(code: Int32, started: Bool, expected: ProcessMemoryError) {
        #expect(ProcessMemoryError(errno: code, pid: 42, operation: "op", started: started) == expected)
    }

    @Test("the permission error explains ptrace access")
    func permissionMessage() {
        let text = ProcessMemoryError.permissionDenied(pid: 42, operation: "process_vm_readv").description
        #expect(text.contains("ptrace"))
        #expect(text.contains("ptrace_scope"))
        #expect(text.contains("CAP_SYS_PTRACE"))
        #expect(text.contains("same user"))
    }

    @Test("a process that does not exist is noSuchProcess")
    func noSuchProcess() throws {
        let pid = try unusedPid()
        #expect(throws: ProcessMemoryError.noSuchProcess(pid: pid)) { try MemoryMapping.read(pid: pid) }
        #expect(throws: ProcessMemoryError.noSuchProcess(pid: pid)) { try PagemapReader(pid: pid) }
    }

    @Test("the helper's patterns are distinct analysed mappings; pagemap sees touched pages present")
    func helperMappingsAndResidency() throws {
        let helper = try HelperProcess(["zero": 3, "same": 4, "random": 5, "text": 6, "untouched": 7])
        defer { helper.stop() }
        let pageSize = MemoryAnalysis.systemPageSize
        let mappings = try MemoryMapping.read(pid: helper.pid)
        let pagemap = try PagemapReader(pid: helper.pid)
        pagemap.checkInvariants()
        for name in ["zero", "same", "random", "text", "untouched"] {
            let area = try #require(helper.areas[name])
            let mapping = try #require(mappings.first { $0.start == area.address }, "no mapping for \(name)")
            #expect(Int(mapping.size) == area.pages * pageSize, "\(name) is its own mapping")
            #expect(mapping.isAnalyzed)
            var present = 0
            var notPresent = 0
            try pagemap.forEachPage(of: mapping, pageSize: pageSize) { _, residency in
                if residency == .present { present += 1 } else if residency == .notPresent { notPresent += 1 }
            }
            if name == "untouched" {
                #expect(present == 0 && notPresent == area.pages)
            } else {
                #expect(present == area.pages && notPresent == 0, "\(name)")
            }
        }
    }

    @Test("both page readers return the helper's pages byte for byte, several segments per call")
    func readersReturnThePages() throws {
        let helper = try HelperProcess(["text": 3, "same": 2])
        defer { helper.stop() }
        let pageSize = MemoryAnalysis.systemPageSize
        let text = try #require(helper.areas["text"])
        let same = try #require(helper.areas["same"])
        let segments = [
            RemoteSegment(address: text.address + UInt(pageSize), length: 2 * pageSize),
            RemoteSegment(address: same.address, length: pageSize),
        ]
        let readers: [any ProcessPageReader] = [
            try #require(VMReadvPageReader(pid: helper.pid, maxSegments: 1)),
            try #require(VMReadvPageReader(pid: helper.pid)),
            try ProcMemPageReader(pid: helper.pid),
        ]
        for reader in readers {
            (reader as? VMReadvPageReader)?.checkInvariants()
            (reader as? ProcMemPageReader)?.checkInvariants()
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 3 * pageSize, alignment: 16)
            defer { buffer.deallocate() }
            let got = try segments.withUnsafeBufferPointer { try reader.read($0, into: buffer) }
            #expect(got == 3 * pageSize)
            for offset in 0..<(2 * pageSize) {
                if buffer[offset] != helperSentence[(pageSize + offset) % helperSentence.count] {
                    Issue.record("\(type(of: reader)): text byte \(offset) differs")
                    break
                }
            }
            let word = SameFilled.word(of: UnsafeRawBufferPointer(rebasing: buffer[(2 * pageSize)...]))
            #expect(word == (0x0101_0101_0101_0101 as UInt64) ^ 0x00F0_0000_0000_0000)
        }
    }

    @Test("a short read stops at a page that is gone")
    func shortReadAtAnUnmappedPage() throws {
        let helper = try HelperProcess(["text": 2])
        defer { helper.stop() }
        let pageSize = MemoryAnalysis.systemPageSize
        let text = try #require(helper.areas["text"])
        // Address 0x1000 is never mapped (mmap_min_addr), so the second segment cannot be read.
        // (A PROT_NONE page would not do: /proc/PID/mem reads with FOLL_FORCE.)
        let segments = [
            RemoteSegment(address: text.address + UInt(pageSize), length: pageSize),
            RemoteSegment(address: 0x1000, length: pageSize),
        ]
        let readers: [any ProcessPageReader] = [
            try #require(VMReadvPageReader(pid: helper.pid)), try ProcMemPageReader(pid: helper.pid),
        ]
        for reader in readers {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * pageSize, alignment: 16)
            defer { buffer.deallocate() }
            let got = try segments.withUnsafeBufferPointer { try reader.read($0, into: buffer) }
            #expect(got == pageSize, "\(type(of: reader))")
        }
    }

    @Test("reading a process that has exited is processExited")
    func readersSeeTheExit() throws {
        let helper = try HelperProcess(["text": 1])
        let pageSize = MemoryAnalysis.systemPageSize
        let text = try #require(helper.areas["text"])
        let readv = try #require(VMReadvPageReader(pid: helper.pid))
        let mem = try ProcMemPageReader(pid: helper.pid)
        let pagemap = try PagemapReader(pid: helper.pid)
        let mapping = MemoryMapping(start: text.address, end: text.address + UInt(pageSize), permissions: "rw-p", path: "")
        helper.stop()
        let segments = [RemoteSegment(address: text.address, length: pageSize)]
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: pageSize, alignment: 16)
        defer { buffer.deallocate() }
        for reader in [readv, mem] as [any ProcessPageReader] {
            #expect(throws: ProcessMemoryError.processExited(pid: helper.pid)) {
                _ = try segments.withUnsafeBufferPointer { try reader.read($0, into: buffer) }
            }
        }
        #expect(throws: ProcessMemoryError.processExited(pid: helper.pid)) {
            try pagemap.forEachPage(of: mapping, pageSize: pageSize) { _, _ in }
        }
    }
}

/// A pid no process has (searching down from the kernel's pid_max).
func unusedPid() throws -> Int32 {
    let max = Int32((try? readProcFile("/proc/sys/kernel/pid_max"))?.filter(\.isNumber) ?? "") ?? 32768
    for pid in stride(from: max - 1, to: 1000, by: -1) where Glibc.kill(pid, 0) != 0 && errno == ESRCH {
        return pid
    }
    throw HelperProcess.HelperError.noReadyLine("no unused pid")
}

