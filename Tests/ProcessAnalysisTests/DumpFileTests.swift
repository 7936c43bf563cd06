import Foundation
import SystemPackage
import SystemSupport
import TestSupport
import Testing

@testable import ProcessAnalysis


/// `--dump FILE` holds another process's memory: a new private file, never written through a
/// link, never over data unless asked, and gone again when the analysis fails.
@Suite("The dump of another process's pages")
struct DumpFileTests {
    @Test("the dump is a new file only its owner can read")
    func dumpIsPrivate() throws {
        let helper = try PatternHelper([.text: 4])
        defer { helper.stop() }
        let directory = try ScratchDirectory("dump")
        defer { directory.remove() }
        let previous = umask(0o022)
        defer { umask(previous) }
        var analysis = MemoryAnalysis(pid: helper.pid, codecs: [.lz4], pool: .zram)
        analysis.dumpPath = directory.path + "/pages.dump"
        let report = try analysis.run()
        var info = stat()
        #expect(stat(directory.path + "/pages.dump", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600, "mode \(String(info.st_mode & 0o777, radix: 8))")
        #expect(Int(info.st_size) == report.scannedPages * MemoryAnalysis.systemPageSize)
    }

    @Test("a symbolic link planted at the dump path is refused, and its target keeps its bytes")
    func plantedLinkIsRefused() throws {
        let helper = try PatternHelper([.text: 4])
        defer { helper.stop() }
        let directory = try ScratchDirectory("dump")
        defer { directory.remove() }
        let target = try directory.file("victim", [1, 2, 3])
        let path = directory.path + "/pages.dump"
        #expect(symlink(target, path) == 0)
        for existing in [ExistingFilePolicy.refuseNonEmpty, .replaceRegularFile] {
            var analysis = MemoryAnalysis(pid: helper.pid, codecs: [.lz4], pool: .zram)
            analysis.dumpPath = path
            analysis.dumpExisting = existing
            let error = try #require(throws: MemoryAnalysisError.self) { try analysis.run() }
            guard case .dumpNotCreated(.symbolicLink(path)) = error else {
                Issue.record("expected a refused link, got \(error)")
                return
            }
            #expect(error.description.contains("never writes through a link"))
        }
        #expect(directory.contents("victim") == [1, 2, 3])
        #expect(directory.names == ["pages.dump", "victim"])
    }

    @Test("a file that holds data is kept unless the analysis is told to replace it")
    func existingDataNeedsForce() throws {
        let helper = try PatternHelper([.text: 4])
        defer { helper.stop() }
        let directory = try ScratchDirectory("dump")
        defer { directory.remove() }
        let path = directory.path + "/pages.dump"
        try directory.file("pages.dump", [9, 9])
        var analysis = MemoryAnalysis(pid: helper.pid, codecs: [.lz4], pool: .zram)
        analysis.dumpPath = path
        let error = try #require(throws: MemoryAnalysisError.self) { try analysis.run() }
        #expect(error.description.contains("--force"))
        #expect(directory.contents("pages.dump") == [9, 9])
        analysis.dumpExisting = .replaceRegularFile
        let report = try analysis.run()
        #expect(directory.contents("pages.dump")?.count == report.scannedPages * MemoryAnalysis.systemPageSize)
    }

    @Test("an analysis that fails leaves no partial dump behind")
    func failedAnalysisRemovesTheDump() throws {
        let helper = try PatternHelper([.text: 4])
        defer { helper.stop() }
        let directory = try ScratchDirectory("dump")
        defer { directory.remove() }
        var analysis = MemoryAnalysis(pid: helper.pid, codecs: [.lz4], pool: .zram)
        analysis.dumpPath = directory.path + "/pages.dump"
        analysis.reader = RefusingReader()
        #expect(throws: MemoryAnalysisError.self) { try analysis.run() }
        #expect(directory.names == [])
    }
}

/// A reader the kernel refuses, as for a process another user owns.
private final class RefusingReader: ProcessPageReader {
    func read(_ segments: UnsafeBufferPointer<RemoteSegment>, into buffer: UnsafeMutableRawBufferPointer)
        throws(ProcessMemoryError) -> Int
    {
        throw ProcessMemoryError(errno: .permissionDenied, pid: 1, operation: "process_vm_readv", started: true)
    }
}
