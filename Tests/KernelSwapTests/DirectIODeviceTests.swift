import Foundation
import SystemPackage
import SystemSupport
import Testing

@testable import KernelSwap

@Suite struct DirectIODeviceTests {
    /// A temporary regular file of `size` bytes (zeros).
    static func temporaryFile(size: Int) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("uswap-directio-\(UUID().uuidString)").path
        try Data(count: size).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func aFileRoundTripsAndAChangedPageIsCounted() throws {
        let path = try Self.temporaryFile(size: 3 << 20)
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard let device = try? DirectIODevice(path: path, chunkSize: 1 << 20) else {
            print("skip: the temporary directory's file system does not support O_DIRECT")
            return
        }
        device.checkInvariants()
        // 2.5 MiB: two whole chunks and a partial one.
        let data = try AlignedBuffer(byteCount: (5 << 20) / 2, alignment: 4096)
        for i in 0..<data.byteCount {
            let mixed: Int = (i &* 2_654_435_761) >> 13
            data.bytes[i] = UInt8(truncatingIfNeeded: mixed)
        }
        let bytes = UnsafeRawBufferPointer(data.bytes)
        _ = try device.write(bytes)
        _ = try device.read(byteCount: bytes.count)
        #expect(try device.mismatchedPages(comparing: bytes, pageSize: 4096) == 0)
        data.bytes[4096 * 300 + 7] ^= 0xFF
        data.bytes[4096 * 600] ^= 0x01
        #expect(try device.mismatchedPages(comparing: bytes, pageSize: 4096) == 2)
        device.close()
        #expect(!device.isOpen)
        #expect(throws: DirectIOError.io(path: path, operation: "write", offset: 0, errno: .badFileDescriptor)) {
            try device.write(bytes)
        }
    }

    @Test func lengthsThatAreNotWholeBlocksAreRefused() throws {
        let path = try Self.temporaryFile(size: 1 << 20)
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard let device = try? DirectIODevice(path: path) else {
            print("skip: the temporary directory's file system does not support O_DIRECT")
            return
        }
        let odd = try AlignedBuffer(byteCount: 4096 + 512, alignment: 4096)
        #expect(throws: DirectIOError.misaligned(what: "the transfer", value: 4608, alignment: 4096)) {
            try device.write(UnsafeRawBufferPointer(odd.bytes))
        }
        #expect(throws: DirectIOError.misaligned(what: "the chunk size", value: 1000, alignment: 4096)) {
            try DirectIODevice(path: path, chunkSize: 1000)
        }
    }

    @Test func readingPastTheEndSaysTheDeviceIsTooSmall() throws {
        let path = try Self.temporaryFile(size: 8192)
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard let device = try? DirectIODevice(path: path) else {
            print("skip: the temporary directory's file system does not support O_DIRECT")
            return
        }
        #expect(throws: DirectIOError.endOfDevice(path: path, operation: "read", offset: 8192)) {
            try device.read(byteCount: 16384)
        }
    }

    @Test func detachingKeepsTheDescriptorNumberButDropsTheFile() throws {
        let path = try Self.temporaryFile(size: 8192)
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard let device = try? DirectIODevice(path: path) else {
            print("skip: the temporary directory's file system does not support O_DIRECT")
            return
        }
        device.detachToDevNull()
        #expect(device.isOpen)
        // /dev/null reads as empty: the file is no longer behind the descriptor.
        #expect(throws: DirectIOError.endOfDevice(path: path, operation: "read", offset: 0)) {
            try device.read(byteCount: 4096)
        }
    }

    @Test func openingAMissingDeviceNamesIt() {
        #expect(throws: DirectIOError.open(path: "/nonexistent/zram9", errno: .noSuchFileOrDirectory)) {
            try DirectIODevice(path: "/nonexistent/zram9")
        }
    }
}
