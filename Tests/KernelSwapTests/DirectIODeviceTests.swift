import Foundation
import SystemPackage
import SystemSupport
import TestSupport
import Testing

@testable import KernelSwap

@Suite struct DirectIODeviceTests {
    /// A temporary regular file of `size` bytes (zeros), on a disk file system (/var/tmp).
    static func temporaryFile(size: Int) throws -> String {
        let path = "\(SwapFile.defaultDirectory)/uswap-directio-\(UUID().uuidString)"
        try Data(count: size).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The device over `path`, or nil after saying (through the CI gate) that its file system
    /// refuses `O_DIRECT` (`EINVAL`). Any other error fails the test: it is not a skip.
    static func directDevice(_ path: String, chunkSize: Int = 1 << 20) throws -> DirectIODevice? {
        let result = Result { () throws(DirectIOError) in try DirectIODevice(path: path, chunkSize: chunkSize) }
        if case .failure(.open(_, let code)) = result, code == .invalidArgument {
            CIGate.unavailable("O_DIRECT: the file system of \(path) refuses it (EINVAL)")
            return nil
        }
        return try result.get()
    }

    @Test func aFileRoundTripsAndAChangedPageIsCounted() throws {
        let path = try Self.temporaryFile(size: 3 << 20)
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard let device = try Self.directDevice(path, chunkSize: 1 << 20) else { return }
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
        guard let device = try Self.directDevice(path) else { return }
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
        guard let device = try Self.directDevice(path) else { return }
        #expect(throws: DirectIOError.endOfDevice(path: path, operation: "read", offset: 8192)) {
            try device.read(byteCount: 16384)
        }
    }

    @Test func detachingKeepsTheDescriptorNumberButDropsTheFile() throws {
        let path = try Self.temporaryFile(size: 8192)
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard let device = try Self.directDevice(path) else { return }
        device.detachToDevNull()
        #expect(device.isOpen)
        // /dev/null reads as empty: the file is no longer behind the descriptor.
        #expect(throws: DirectIOError.endOfDevice(path: path, operation: "read", offset: 0)) {
            try device.read(byteCount: 4096)
        }
    }

    @Test func anErrorOtherThanAMissingDirectIOFailsInsteadOfSkipping() throws {
        // A directory cannot be opened read-write: EISDIR is a failure the helper passes on.
        #expect(throws: DirectIOError.open(path: "/var/tmp", errno: .isDirectory)) { _ = try Self.directDevice("/var/tmp") }
    }

    @Test func openingAMissingDeviceNamesIt() {
        #expect(throws: DirectIOError.open(path: "/nonexistent/zram9", errno: .noSuchFileOrDirectory)) {
            try DirectIODevice(path: "/nonexistent/zram9")
        }
    }
}
