import Foundation
import PageCodecs
import SystemPackage
import SystemSupport
import Testing
import Workloads

@testable import ProcessAnalysis

@Suite("/proc/PID/maps: mappings, and which are analysed")
struct MemoryMappingTests {
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

    @Test("a process that does not exist is noSuchProcess")
    func noSuchProcess() throws {
        let pid = try unusedPid()
        #expect(throws: ProcessMemoryError.noSuchProcess(pid: pid)) { try MemoryMapping.read(pid: pid) }
    }
}
