/// A second tier for compressed pages: somewhere a pool puts objects it no longer wants to hold
/// in memory (a backing file, a Redis Cluster), and reads them back from on a swap-in.
///
/// A tier stores variable-length objects (a compressed page, or a whole page stored raw: an
/// object of exactly the page size is raw, as zram's huge pages are) and hands back a
/// ``PageTierHandle`` for each one it accepted; the caller keeps the handle where it kept the
/// object, and passes it to ``read(_:into:)`` and ``free(_:)``.
///
/// **Acknowledgement.** ``write(_:)`` takes a whole batch, so a tier can pipeline it, and marks
/// each object acknowledged (stored as durably as the tier promises: the cluster's master and
/// its replicas, the file's page cache) or not. The caller may drop its copy of an object only
/// once it is acknowledged; an object that was not stays with the caller, who writes it again
/// later. Nothing is ever half stored from the caller's point of view.
///
/// **Handles are never reused** by one tier instance while it lives unless the tier says so
/// (``handlesAreReused``): a tier that cannot tell when a write it gave up on lands (a network
/// store) must not let a late write overwrite a newer object under a recycled name.
///
/// **Reads** fill the caller's buffer and return the object's length; they never free anything
/// and never return a zero or stale object: a read that cannot be served throws, and the buffer's
/// contents are then unspecified.
///
/// **Frees** may be deferred and batched by the tier (handles that are never reused make that
/// safe); a free never fails from the caller's point of view: what cannot be freed now is retried
/// by the tier, and what it finally cannot free is counted in its statistics.
///
/// Conformers are shared between threads; every method may be called concurrently.
public protocol PageTier: AnyObject, Sendable {
    /// The largest object ``write(_:)`` accepts (the page size: a page that does not compress is
    /// stored raw).
    var maxObjectSize: Int { get }

    /// Whether a handle may name a different object after it was freed (a file's block is
    /// reused; a cluster's key never is).
    var handlesAreReused: Bool { get }

    /// Stores every object of `batch` and marks each one acknowledged, with its handle, or not
    /// (``PageTierBatch/failure`` then says why). Objects that were not acknowledged stay the
    /// caller's: it keeps them and may write them again.
    ///
    /// - Throws: ``PageTierError/objectTooLarge(size:limit:)`` when the batch was made for larger
    ///   objects than the tier takes, ``PageTierError/closed`` after the tier was closed; nothing
    ///   was written then.
    func write(_ batch: inout PageTierBatch) throws(PageTierError)

    /// Reads the object stored under `handle` into `buffer` and returns its length.
    ///
    /// - Throws: ``PageTierError/missing(handle:)``, ``PageTierError/corrupt(handle:reason:)``,
    ///   ``PageTierError/unavailable(_:)`` (the tier could not be reached within its retry
    ///   window), ``PageTierError/bufferTooSmall(needed:available:)``; nothing is freed.
    func read(_ handle: PageTierHandle, into buffer: UnsafeMutableRawBufferPointer) throws(PageTierError) -> Int

    /// Frees the objects under `handles` (the caller no longer needs them). May return before
    /// the storage is released.
    func free(_ handles: UnsafeBufferPointer<PageTierHandle>)

    /// The tier's counters so far.
    var tierStatistics: PageTierStatistics { get }
}

extension PageTier {
    /// Frees the objects under `handles` (an array: see the buffer form).
    public func free(_ handles: [PageTierHandle]) {
        handles.withUnsafeBufferPointer { free($0) }
    }
}

/// What a tier hands back for an object it stored: the caller keeps it in place of the object.
public struct PageTierHandle: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The tier's number for the object (a file block, a cluster key's suffix).
    public let rawValue: UInt64

    /// The handle with this number.
    @inlinable
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The number in hexadecimal, as keys show it.
    public var description: String { "0x" + String(rawValue, radix: 16) }
}

/// A tier's counters, named as the pool's are: what is stored, written, refused, read and freed.
public struct PageTierStatistics: Sendable, Equatable {
    /// Objects stored now (acknowledged writes not yet freed).
    public var storedObjects = 0
    /// Bytes of those objects (payload only, without the tier's own headers), where the tier
    /// keeps sizes (a file tier); a tier that does not (the cluster's sizes live in the cluster)
    /// reports 0.
    public var storedBytes = 0
    /// Objects acknowledged so far.
    public var acknowledgedWrites = 0
    /// Objects a write did not acknowledge (the caller kept them).
    public var refusedWrites = 0
    /// Objects read successfully.
    public var reads = 0
    /// Reads that threw (missing, corrupt, unreachable).
    public var failedReads = 0
    /// Objects freed (their storage released).
    public var frees = 0
    /// Frees accepted but not yet carried out (retried by the tier).
    public var pendingFrees = 0

    /// All zero.
    public init() {}
}
