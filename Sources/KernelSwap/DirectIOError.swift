import SystemPackage

/// What went wrong during direct I/O on a block device, and what to do.
public enum DirectIOError: Error, Equatable, CustomStringConvertible {
    /// The device could not be opened, or not for direct I/O.
    case open(path: String, errno: Errno)
    /// A read, write or fsync failed.
    case io(path: String, operation: String, offset: Int, errno: Errno)
    /// The device ended before the data did.
    case endOfDevice(path: String, operation: String, offset: Int)
    /// A size or length that direct I/O cannot move (not a multiple of the block size).
    case misaligned(what: String, value: Int, alignment: Int)
    /// The aligned buffer could not be allocated.
    case allocation(bytes: Int, errno: Errno)

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .open(let path, let code):
            "cannot open \(path) for direct I/O: \(code) (errno \(code.rawValue))"
        case .io(let path, let operation, let offset, let code):
            "\(operation) of \(path) at offset \(offset) failed: \(code) (errno \(code.rawValue))"
        case .endOfDevice(let path, let operation, let offset):
            "\(operation) of \(path) stopped at offset \(offset): the device is smaller than the data"
        case .misaligned(let what, let value, let alignment):
            "\(what) is \(value) bytes, not a multiple of \(alignment): direct I/O moves whole blocks"
        case .allocation(let bytes, let code):
            "cannot allocate an aligned buffer of \(bytes) bytes: \(code)"
        }
    }
}
