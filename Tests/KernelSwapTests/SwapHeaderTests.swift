import Foundation
import SystemPackage
import SystemSupport
import Testing

@testable import KernelSwap
import TestSupport

@Suite struct SwapHeaderTests {
    @Test(arguments: [1 << 20, 64 << 20, 40960])
    func swapHeaderMatchesMkswapByteForByte(totalBytes: Int) async throws {
        let candidates: [String] = ["/usr/sbin/mkswap", "/sbin/mkswap", "/usr/bin/mkswap"]
        let mkswap = candidates.first { path in access(path, X_OK) == 0 }
        let uuidText = "01234567-89ab-cdef-0123-456789abcdef"
        let uuid: [UInt8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]
        let ours = try SwapHeader.page(totalBytes: totalBytes, uuid: uuid)
        #expect(ours.count == 4096)
        #expect(Array(ours[4086...]) == Array("SWAPSPACE2".utf8))
        #expect(ours[1024] == 1 && ours[1025] == 0)
        let lastPage = UInt32(ours[1028]) | UInt32(ours[1029]) << 8 | UInt32(ours[1030]) << 16 | UInt32(ours[1031]) << 24
        #expect(Int(lastPage) == totalBytes / 4096 - 1)
        guard let mkswap else {
            print("skipped the mkswap comparison: no mkswap on this machine")
            return
        }
        let directory = try TemporaryDirectory("swapheader")
        defer { directory.remove() }
        let file = try directory.file("swap.img", [UInt8](repeating: 0, count: totalBytes))
        let run = try await HelperProcess.run(path: mkswap, ["-U", uuidText, file])
        #expect(run.exitCode == 0, "mkswap failed: \(run.output)")
        let readFD = open(file, O_RDONLY)
        defer { close(readFD) }
        var theirs = [UInt8](repeating: 0, count: 4096)
        let n = theirs.withUnsafeMutableBytes { pread(readFD, $0.baseAddress, 4096, 0) }
        #expect(n == 4096)
        #expect(ours == theirs)
    }

    @Test(arguments: [0, 4096 * 9, 4096 * 10 + 1])
    func swapHeaderRejectsAreasMkswapWouldReject(totalBytes: Int) {
        #expect(throws: KernelSwapError.self) { _ = try SwapHeader.page(totalBytes: totalBytes) }
    }


    @Test func theWrittenHeaderIsSyncedAtTheStartOfTheFileWithARandomUUID() throws {
        let directory = try TemporaryDirectory("swapheader")
        defer { directory.remove() }
        let file = try directory.file("swap.img", [UInt8](repeating: 0xEE, count: 16 * 4096))
        try SwapHeader.write(to: file, totalBytes: 16 * 4096)
        let bytes = try #require(FileManager.default.contents(atPath: file).map { [UInt8]($0) })
        #expect(Array(bytes[4086..<4096]) == SwapHeader.signature)
        #expect(bytes[1024 + 12 + 6] & 0xF0 == 0x40)  // UUID version 4
        #expect(bytes[4096] == 0xEE)  // only page 0 is written
        #expect(throws: KernelSwapError.self) { try SwapHeader.write(to: directory.path + "/missing", totalBytes: 16 * 4096) }
    }
}
