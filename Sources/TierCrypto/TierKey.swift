#if canImport(Glibc)
import Glibc
#endif
import Crypto
import SystemPackage
import Synchronization
import SystemSupport

/// The secret key of an ``EncryptedPageTier``: 256 random bits that live only in this process,
/// in one page of their own outside the Swift heap, locked in RAM (`mlock`: never written to
/// swap) and left out of core dumps (`MADV_DONTDUMP`).
///
/// ```swift
/// let key = try TierKey.random()
/// key.withSymmetricKey { key in /* AES.GCM.seal(..., using: key) */ }
/// ```
///
/// **Memory and ownership.** The key owns one anonymous page (an `AnonymousMapping`), mapped,
/// locked and marked in `init`, zeroed, unlocked and unmapped in `deinit`. The 32 key bytes are
/// its first bytes; the rest of the page stays zero. swift-crypto takes keys as `SymmetricKey`,
/// which copies them into its own zeroing storage (`SecureBytes`, cleared when freed): each use
/// makes such a copy for the duration of the call (``withSymmetricKey(_:)``), and the long-lived
/// copy is the locked page alone. **Invariant** (``checkInvariants()``): the page is locked and
/// not dumpable.
public final class TierKey: @unchecked Sendable {
    // @unchecked Sendable: the key bytes are written once in `init` and only read afterwards.

    /// The key's length in bytes (AES-256).
    public static let byteCount = 32

    private let page: AnonymousMapping
    /// Whether `mlock` succeeded (it fails beyond RLIMIT_MEMLOCK for an unprivileged process).
    public let isLocked: Bool
    /// Whether `MADV_DONTDUMP` succeeded.
    public let isExcludedFromCoreDumps: Bool
    private let claimed = Atomic<Bool>(false)

    /// Makes a key of 32 bytes from the system's random source (`SystemRandomNumberGenerator`:
    /// `getrandom` on Linux), written straight into the locked page.
    ///
    /// - Throws: ``TierCryptoError/keyUnavailable(_:)`` when the page cannot be mapped or locked
    ///   (`mlock` past RLIMIT_MEMLOCK: raise `ulimit -l`, or run as root).
    public static func random() throws(TierCryptoError) -> TierKey {
        try TierKey { bytes in
            var generator = SystemRandomNumberGenerator()
            for offset in stride(from: 0, to: bytes.count, by: 8) {
                bytes.storeBytes(of: generator.next() as UInt64, toByteOffset: offset, as: UInt64.self)
            }
        }
    }

    /// A key with the given bytes (tests, or a key the caller keeps elsewhere); the caller should
    /// clear its own copy, and must never give the same bytes to two tiers (nor to two runs):
    /// generations would repeat under one key.
    ///
    /// - Throws: ``TierCryptoError/keyUnavailable(_:)`` for a key that is not 32 bytes or a page
    ///   that cannot be mapped or locked.
    public convenience init(bytes: UnsafeRawBufferPointer) throws(TierCryptoError) {
        guard bytes.count == Self.byteCount else {
            throw .keyUnavailable("a key of \(bytes.count) bytes: give \(Self.byteCount) (AES-256)")
        }
        try self.init { target throws(TierCryptoError) in target.copyMemory(from: bytes) }
    }

    private init(fill: (UnsafeMutableRawBufferPointer) throws(TierCryptoError) -> Void) throws(TierCryptoError) {
        let mapping: AnonymousMapping
        do { mapping = try AnonymousMapping(size: AnonymousMapping.pageSize, reserveOnly: false) } catch {
            throw .keyUnavailable("mmap of the key's page failed: \(error)")
        }
        #if os(Linux)
        isExcludedFromCoreDumps = madvise(mapping.base, mapping.size, MADV_DONTDUMP) == 0
        #else
        isExcludedFromCoreDumps = false
        #endif
        guard mlock(mapping.base, mapping.size) == 0 else {
            let code = Errno(rawValue: errno)
            throw .keyUnavailable("mlock of the key's page failed (\(code)): raise the locked-memory limit (ulimit -l) or run as root")
        }
        isLocked = true
        try fill(UnsafeMutableRawBufferPointer(start: mapping.base, count: Self.byteCount))
        page = mapping
    }

    deinit {
        Self.clear(page.base, count: page.size)
        _ = munlock(page.base, page.size)
    }

    /// Marks the key as used by one encrypting tier; returns false when another already claimed
    /// it. Generations (nonces) are unique within one tier only, so two tiers sharing a key could
    /// seal two objects under one nonce, which breaks AES-GCM: ``EncryptedPageTier`` refuses a
    /// claimed key.
    public func claim() -> Bool {
        claimed.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
    }

    /// Zeroes `count` bytes at `base` with a store the optimizer cannot drop (`explicit_bzero`).
    private static func clear(_ base: UnsafeMutableRawPointer, count: Int) {
        explicit_bzero(base, count)
    }

    /// Runs `body` with a `SymmetricKey` made from the locked bytes (swift-crypto's zeroing
    /// copy, freed when `body` returns).
    public func withSymmetricKey<R, E: Error>(_ body: (SymmetricKey) throws(E) -> R) throws(E) -> R {
        let key = SymmetricKey(data: UnsafeRawBufferPointer(start: page.base, count: Self.byteCount))
        return try body(key)
    }

    /// The key page's address (for tests that look it up in `/proc/self/smaps`).
    public var pageAddress: UnsafeRawPointer { UnsafeRawPointer(page.base) }

    /// Checks that the page is locked and excluded from core dumps, as `/proc/self/smaps` shows
    /// it (its `Locked:` size and the `dd` flag); debug builds only (tests call it).
    public func checkInvariants() {
        #if DEBUG && os(Linux)
        precondition(isLocked && isExcludedFromCoreDumps, "the key page is not locked and excluded from dumps")
        #endif
    }
}
