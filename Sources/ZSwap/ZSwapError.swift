import PageStore
import ZsPool

/// What went wrong setting up a ``FrontswapCache``, with what to do about it. (Page operations
/// throw `PageStoreError`, the vocabulary every `SwapBackend` shares.)
public enum ZSwapError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The configuration cannot make a cache (a size, a limit, a threshold, a page size).
    case invalidConfiguration(String)
    /// The compressor could not be set up (e.g. libzstd is not installed).
    case codecUnavailable(codec: String, reason: String)
    /// The compressed pool (a `ZsPool`) could not be made.
    case pool(ZsPoolError)
    /// The backing file could not be prepared.
    case file(PageStoreError)

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .invalidConfiguration(let message): message
        case .codecUnavailable(let codec, let reason):
            "codec \(codec) is unavailable (\(reason)): install its library or configure another codec"
        case .pool(let error): "the compressed pool could not be made: \(error.description)"
        case .file(let error): "the backing file could not be prepared: \(error.description)"
        }
    }
}
