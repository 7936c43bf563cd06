import SystemPackage
import Testing

@testable import SystemSupport

@Suite struct ProcessFootprintTests {
    @Test func readsThisProcessesDescriptorsMappingsThreadsAndResidentMemory() throws {
        let footprint = try ProcessFootprint.current()
        #expect(footprint.openDescriptors >= 3)
        #expect(footprint.mappings > 10)
        #expect(footprint.threads >= 1)
        #expect(footprint.residentBytes > 1 << 20)
        #expect(footprint.description.hasPrefix("fds=\(footprint.openDescriptors) maps="))
    }

    @Test(arguments: [
        ("Name:\tx\nVmPeak:\t  2000 kB\nVmRSS:\t  1234 kB\nThreads:\t3\n", 1234 * 1024 as Int?),
        ("VmRSS:\t0 kB\n", 0),
        ("Name:\tkthreadd\nThreads:\t1\n", nil),
        ("VmRSS:\tnone\n", nil),
    ])
    func takesResidentMemoryFromTheVmRSSLine(status: String, bytes: Int?) {
        #expect(ProcessFootprint.residentBytes(status: status) == bytes)
    }

    @Test func countsADirectorysEntriesWithoutDotAndDotDot() throws {
        var template = Array("/tmp/uswap-footprint-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let directory = String(cString: try #require(made))
        defer { _ = rmdir(directory) }
        #expect(try ProcessFootprint.entries(of: directory) == 0)
        for name in ["a", "..b", ".c"] {
            let fd = open("\(directory)/\(name)", O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
            #expect(fd >= 0)
            _ = close(fd)
        }
        defer { for name in ["a", "..b", ".c"] { _ = unlink("\(directory)/\(name)") } }
        #expect(try ProcessFootprint.entries(of: directory) == 3)
    }

    @Test func aMissingDirectoryThrowsItsErrno() {
        #expect(throws: Errno.noSuchFileOrDirectory) { try ProcessFootprint.entries(of: "/nonexistent-uswap-directory") }
    }
}
