import PageCodecs
import PageStore

/// What went wrong in a ``ZramDevice``, with what to do about it.
public enum ZramError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The configuration cannot make a device (a size, a page size, a limit).
    case invalidConfiguration(String)
    /// A codec could not be set up (e.g. libzstd is not installed).
    case codecUnavailable(codec: String, reason: String)
    /// The system refused the pool's address space reservation.
    case outOfAddressSpace(bytes: Int)
    /// A byte-range I/O whose offset or length is not a multiple of the 512-byte sector.
    case unalignedIO(offset: Int, length: Int)
    /// A byte-range I/O reaching past the device's end.
    case outOfRange(offset: Int, length: Int, disksize: Int)
    /// Recompression was asked for but the device has no secondary codec.
    case noSecondaryCodec
    /// A page operation failed; the wrapped error says which and why.
    case page(PageStoreError)
    /// Writeback was asked for but the device has no backing file.
    case noBackingDevice
    /// Writeback wrote nothing because the writeback limit is enabled and used up
    /// (`writeback_limit` is below one page, in 4 KiB units).
    case writebackLimitReached(limit: Int)
    /// Writeback wrote nothing because every block of the backing file is in use.
    case backingFileFull(blocks: Int)
    /// Some block writes failed: `written` pages went to the file, `failures` pages stayed in
    /// the pool (readable); `last` is the last write error.
    case writebackFailed(written: Int, failures: Int, last: PageStoreError)

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .invalidConfiguration(let message): message
        case .codecUnavailable(let codec, let reason):
            "codec \(codec) is unavailable (\(reason)): install its library or configure another codec"
        case .outOfAddressSpace(let bytes):
            "could not reserve \(bytes) bytes of address space for the pool: use a smaller disksize"
        case .unalignedIO(let offset, let length):
            "I/O at offset \(offset) of \(length) bytes is not aligned to 512-byte sectors: align both to 512"
        case .outOfRange(let offset, let length, let disksize):
            "I/O at offset \(offset) of \(length) bytes reaches past the device's \(disksize) bytes"
        case .noSecondaryCodec:
            "recompression needs a secondary codec: set ZramConfiguration.secondaryCodec"
        case .page(let error): error.description
        case .noBackingDevice:
            "writeback needs a backing file: set ZramConfiguration.backingDevice when making the device"
        case .writebackLimitReached(let limit):
            "writeback limit used up (\(limit) 4 KiB units left): raise writebackLimit or disable writebackLimitEnabled"
        case .backingFileFull(let blocks):
            "all \(blocks) blocks of the backing file are in use: free written-back slots or use a larger file"
        case .writebackFailed(let written, let failures, let last):
            "\(failures) writeback writes failed (\(written) pages were written; the others stay in memory): \(last.description); check the backing file's disk"
        }
    }
}
