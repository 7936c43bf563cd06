import SystemPackage
import SystemSupport

/// The swap area header `mkswap` writes (util-linux, version 1): page 0 of the device holds
/// `version` (1), `last_page` (pages - 1), `nr_badpages` (0) and a UUID at offset 1024, and the
/// signature "SWAPSPACE2" in its last ten bytes; everything else is zero.
public enum SwapHeader {
    /// The signature at the end of page 0.
    public static let signature = Array("SWAPSPACE2".utf8)
    /// Where the version field starts (after 1024 boot-block bytes).
    public static let infoOffset = 1024

    /// The first page of a swap area of `totalBytes` bytes (a whole number of pages, at least
    /// 10 pages, as mkswap requires).
    public static func page(totalBytes: Int, pageSize: Int = 4096, uuid: [UInt8] = Array(repeating: 0, count: 16))
        throws(KernelSwapError) -> [UInt8]
    {
        guard pageSize >= 4096, pageSize & (pageSize - 1) == 0 else {
            throw .failed("swap page size \(pageSize) is not a power of two >= 4096")
        }
        guard totalBytes % pageSize == 0, totalBytes / pageSize >= 10 else {
            throw .failed("a swap area of \(totalBytes) bytes is not a whole number of at least 10 pages")
        }
        let lastPage = totalBytes / pageSize - 1
        guard lastPage <= Int(UInt32.max) else { throw .failed("a swap area of \(totalBytes) bytes is too large") }
        guard uuid.count == 16 else { throw .failed("a swap UUID has 16 bytes, got \(uuid.count)") }
        var page = [UInt8](repeating: 0, count: pageSize)
        func put32(_ value: UInt32, at offset: Int) {
            for i in 0..<4 { page[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
        }
        put32(1, at: infoOffset)  // version
        put32(UInt32(lastPage), at: infoOffset + 4)  // last_page
        put32(0, at: infoOffset + 8)  // nr_badpages
        for i in 0..<16 { page[infoOffset + 12 + i] = uuid[i] }
        for (i, byte) in signature.enumerated() { page[pageSize - 10 + i] = byte }
        return page
    }

    /// Writes the header for `totalBytes` bytes, with a random (version 4) UUID, to the start
    /// of `path` and syncs it.
    public static func write(to path: String, totalBytes: Int, pageSize: Int = 4096) throws(KernelSwapError) {
        var uuid = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for i in 0..<16 { uuid[i] = UInt8.random(in: 0...255, using: &generator) }
        uuid[6] = uuid[6] & 0x0F | 0x40  // version 4
        uuid[8] = uuid[8] & 0x3F | 0x80  // variant 1
        let header = try page(totalBytes: totalBytes, pageSize: pageSize, uuid: uuid)
        let file: FileDescriptor
        do { file = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.closeOnExec]) } catch {
            throw .failed("open \(path) to write the swap header: \(error)")
        }
        defer { try? file.close() }
        do { try file.writeAll(toAbsoluteOffset: 0, header) } catch { throw .failed("write of the swap header to \(path): \(error)") }
        do { _ = try SystemCall.retrying { fsync(file.rawValue) } } catch { throw .failed("fsync \(path): \(error)") }
    }
}
