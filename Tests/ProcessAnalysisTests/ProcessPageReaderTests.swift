import Foundation
import PageCodecs
import SystemPackage
import SystemSupport
import Testing
import Workloads

@testable import ProcessAnalysis

@Suite("Page readers: process_vm_readv and /proc/PID/mem")
struct ProcessPageReaderTests {
    @Test("both page readers return the helper's pages byte for byte, several segments per call")
    func readersReturnThePages() throws {
        let helper = try PatternHelper([.text: 3, .same: 2])
        defer { helper.stop() }
        let pageSize = MemoryAnalysis.systemPageSize
        let text = try #require(helper.areas[.text])
        let same = try #require(helper.areas[.same])
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
                if buffer[offset] != MemoryPattern.sentence[(pageSize + offset) % MemoryPattern.sentence.count] {
                    Issue.record("\(type(of: reader)): text byte \(offset) differs")
                    break
                }
            }
            let word = SameFilled.word(of: UnsafeRawBufferPointer(rebasing: buffer[(2 * pageSize)...]))
            #expect(word == MemoryPattern.sameWord(page: 0))
        }
    }

    @Test("a short read stops at a page that is gone")
    func shortReadAtAnUnmappedPage() throws {
        let helper = try PatternHelper([.text: 2])
        defer { helper.stop() }
        let pageSize = MemoryAnalysis.systemPageSize
        let text = try #require(helper.areas[.text])
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
        let helper = try PatternHelper([.text: 1])
        let pageSize = MemoryAnalysis.systemPageSize
        let text = try #require(helper.areas[.text])
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
