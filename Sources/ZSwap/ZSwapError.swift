import PageStore
import ZRAM

/// What went wrong setting up a ``FrontswapCache``, with what to do about it. (Page operations
/// throw `PageStoreError`, the vocabulary every `SwapBackend` shares.)
public enum ZSwapError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The configuration cannot make a cache (a size, a limit, a threshold, a page size).
    case invalidConfiguration(String)
    /// The compressed pool (a `ZramDevice`) could not be made.
    case pool(ZramError)
    /// The backing file could not be prepared.
    case file(PageStoreError)

    public var description: String {
        switch self {
        case .invalidConfiguration(let message): message
        case .pool(let error): "the compressed pool could not be made: \(error.description)"
        case .file(let error): "the backing file could not be prepared: \(error.description)"
        }
    }
}
