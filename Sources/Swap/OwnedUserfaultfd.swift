#if os(Linux)
import SystemPackage
import SystemSupport

/// A userfaultfd descriptor with one owner, closed when the owner lets it go: what a swap region
/// holds so that every way out of its setup, and its teardown, closes the descriptor once.
///
/// ```swift
/// let owned = try OwnedUserfaultfd.open(requesting: [.pagefaultFlagWP])
/// try owned.handle.register(mapping.base, length: mapping.size, writeProtect: true)
/// // ... serve faults through owned.handle ...
/// // The descriptor closes when `owned` goes away (or at owned.close()).
/// ```
///
/// Owner and lifetime: the value owns ``handle``'s descriptor from ``open(requesting:)`` until
/// ``close()`` consumes it or the value is destroyed (`deinit` closes it). Copies of ``handle``
/// (the fault path keeps one) are plain views: they must not be used after the owner closed it.
/// Invariant: the descriptor is open and has completed its `UFFDIO_API` handshake while the
/// value lives.
public struct OwnedUserfaultfd: ~Copyable, Sendable {
    /// The descriptor, for its one-ioctl operations.
    public let handle: Userfaultfd
    /// The features the handshake requested and the kernel granted.
    public let features: UserfaultfdFeatures

    /// Opens a user-mode-only descriptor (see ``Userfaultfd/open()``) and performs the handshake
    /// requesting `features`. Throws the `Errno` of the failed step; a descriptor that was
    /// opened is closed again before the error is thrown (EINVAL: the kernel lacks a requested
    /// feature).
    public static func open(requesting features: UserfaultfdFeatures) throws(Errno) -> OwnedUserfaultfd {
        let handle = try Userfaultfd.open()
        do {
            let granted = try handle.handshake(requesting: features)
            return OwnedUserfaultfd(handle: handle, features: granted)
        } catch {
            handle.close()
            throw error
        }
    }

    private init(handle: Userfaultfd, features: UserfaultfdFeatures) {
        self.handle = handle
        self.features = features
    }

    /// Closes the descriptor now.
    public consuming func close() {
        // deinit runs at the end of this consuming call and closes it.
    }

    deinit {
        handle.close()
    }

    /// Debug-only: the descriptor is still open (`fcntl(F_GETFD)` succeeds on it).
    public func checkInvariants() {
        #if DEBUG
        precondition(fcntl(handle.fd, F_GETFD) >= 0, "the userfaultfd \(handle.fd) was closed behind its owner's back")
        #endif
    }
}
#endif
