/// What went wrong in a codec, with what to do about it.
public enum CodecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The compressed block ended in the middle of a sequence (truncated or corrupt input).
    case truncatedInput(offset: Int)
    /// A match offset of zero, or one pointing before the start of the output.
    case invalidOffset(offset: Int, distance: Int)
    /// The block decodes to more bytes than the output buffer holds.
    case outputOverflow(capacity: Int)
    /// A length field (literal or match run) is malformed or overflows.
    case invalidLength(offset: Int)
    /// The block breaks the format's end rules (e.g. it ends with a match).
    case malformedBlock(offset: Int, reason: String)
    /// The decoded size is not what the caller expected.
    case sizeMismatch(expected: Int, actual: Int)
    /// An external library (libzstd, liblz4) could not be loaded or lacks a symbol.
    case libraryUnavailable(library: String, reason: String)
    /// An external library reported an error.
    case libraryError(library: String, message: String)
    /// An argument outside the accepted range (page size, level, acceleration).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .truncatedInput(let o): "compressed block truncated at byte \(o): the data is corrupt or was cut short"
        case .invalidOffset(let o, let d): "invalid match offset \(d) at byte \(o): the data is corrupt"
        case .outputOverflow(let c): "block decodes to more than the \(c)-byte output buffer: corrupt data or wrong page size"
        case .invalidLength(let o): "malformed length field at byte \(o): the data is corrupt"
        case .malformedBlock(let o, let r): "malformed block at byte \(o): \(r)"
        case .sizeMismatch(let e, let a): "decoded \(a) bytes where \(e) were expected: corrupt data or wrong page size"
        case .libraryUnavailable(let l, let r): "\(l) is unavailable (\(r)); install it (e.g. apt-get install \(l.hasPrefix("libzstd") ? "libzstd1" : "liblz4-1")) or choose another codec"
        case .libraryError(let l, let m): "\(l) failed: \(m)"
        case .invalidArgument(let m): m
        }
    }
}
