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
        let file = try SwapFile.create(path, bytes: 1 << 20)
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600 && Int(info.st_size) == 1 << 20)
        #expect(Int(info.st_blocks) * 512 >= 1 << 20, "allocated: swapon refuses holes")
        let bytes = try #require(FileManager.default.contents(atPath: path).map { [UInt8]($0) })
        #expect(Array(bytes[4086..<4096]) == SwapHeader.signature)
        try file.remove()
        try file.remove()  // already gone: nothing to do
        #expect(!Sysfs.exists(path))
    }

    @Test func anythingAlreadyAtThePathIsRefusedAndLeftAlone() throws {
        let directory = try TemporaryDirectory("swapfile-existing")
        defer { directory.remove() }
        let empty = try directory.file("empty.swap", [])
        #expect(throws: KernelSwapError.self) { _ = try SwapFile.create(empty, bytes: 1 << 20) }
        #expect(Sysfs.exists(empty))
        // A link planted at the path is never followed: its target keeps its bytes.
        let target = try directory.file("target", [1, 2, 3])
        let link = directory.path + "/planted.swap"
        #expect(symlink(target, link) == 0)
        #expect(throws: KernelSwapError.self) { _ = try SwapFile.create(link, bytes: 1 << 20) }
        #expect(FileManager.default.contents(atPath: target) == Data([1, 2, 3]))
    }

    @Test func removingLeavesAnotherFileAtThePathAlone() throws {
        let directory = try TemporaryDirectory("swapfile-replaced")
        defer { directory.remove() }
        let path = directory.path + "/replaced.swap"
        let file = try SwapFile.create(path, bytes: 1 << 20)
        #expect(unlink(path) == 0)
        _ = try directory.file("replaced.swap", [7])  // someone else's file now has the name
        #expect(throws: KernelSwapError.self) { try file.remove() }
        #expect(FileManager.default.contents(atPath: path) == Data([7]))
    }
}
