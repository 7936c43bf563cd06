/// What went wrong with tier encryption, with what to do about it. (An ``EncryptedPageTier``
/// reports reads and writes through `PageTierError`: a block that fails authentication is
/// `.corrupt`.)
public enum TierCryptoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The key could not be made, placed or locked.
    case keyUnavailable(String)
    /// The settings cannot work.
    case invalidConfiguration(String)
    /// A sealed object did not authenticate: its bytes, slot, generation or key are not the ones
    /// it was sealed with.
    case authenticationFailed
    /// The cipher could not run (a buffer too small, swift-crypto refused).
    case cipherFailed(String)

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .keyUnavailable(let reason): "the tier's key is unavailable: \(reason)"
        case .invalidConfiguration(let reason): reason
        case .authenticationFailed:
            "authentication failed (AES-GCM): the stored bytes were changed, another slot's or an older block was put in their place, or the key is not the one that wrote them; nothing was freed"
        case .cipherFailed(let reason): "encryption failed: \(reason)"
        }
    }
}
