import Foundation
import SystemPackage
import SystemSupport
import Testing

@testable import KernelSwap

@Suite struct SwapFileTests {
    @Test func aSwapFileThatCannotFitIsUnavailable() {
        #expect(SwapFile.spaceProblem(directory: "/tmp", bytes: Int.max / 4)?.contains("MiB free") == true)
        #expect(SwapFile.spaceProblem(directory: "/nonexistent-uswap-dir", bytes: 4096)?.contains("cannot inspect") == true)
        #expect(SwapFile.spaceProblem(directory: "/tmp", bytes: 1 << 20) == nil)
    }

    @Test func swapFileNamesAreUniqueAndInTheirDirectory() {
        let a = SwapFile.uniquePath(in: "/var/tmp/", pid: 42)
        let b = SwapFile.uniquePath(in: "/var/tmp", pid: 42)
        #expect(a.hasPrefix("/var/tmp/uswap-kzswap-42-") && a.hasSuffix(".swap"))
        #expect(a != b)
    }

    @Test func aSwapFileIsCreatedPrivateAllocatedSignedAndRemoved() throws {
        let directory = try TemporaryDirectory("swapfile")
        defer { directory.remove() }
        let path = SwapFile.uniquePath(in: directory.path)
        try SwapFile.create(path)
        #expect(throws: KernelSwapError.self) { try SwapFile.create(path) }  // never an existing file
        try SwapFile.prepare(path, bytes: 1 << 20)
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600 && Int(info.st_size) == 1 << 20)
        let bytes = try #require(FileManager.default.contents(atPath: path).map { [UInt8]($0) })
        #expect(Array(bytes[4086..<4096]) == SwapHeader.signature)
        try SwapFile.remove(path)
        try SwapFile.remove(path)  // already gone: nothing to do
        #expect(!Sysfs.exists(path))
    }
}
