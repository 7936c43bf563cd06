#if os(Linux)
import CUSwap
#endif
import SystemPackage
import SystemSupport

/// The userfaultfd features a kernel reports (`UFFDIO_API` with features = 0), bit for bit as
/// `UFFD_FEATURE_*`.
public struct UserfaultfdFeatures: OptionSet, Sendable, Hashable, CustomStringConvertible {
    /// The raw `UFFD_FEATURE_*` bits.
    public var rawValue: UInt64
    /// Features from raw bits.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Write-protect faults (`UFFD_FEATURE_PAGEFAULT_FLAG_WP`, 5.7).
    public static let pagefaultFlagWP = UserfaultfdFeatures(rawValue: 1 << 0)
    /// `UFFD_EVENT_FORK`.
    public static let eventFork = UserfaultfdFeatures(rawValue: 1 << 1)
    /// `UFFD_EVENT_REMAP`.
    public static let eventRemap = UserfaultfdFeatures(rawValue: 1 << 2)
    /// `UFFD_EVENT_REMOVE`.
    public static let eventRemove = UserfaultfdFeatures(rawValue: 1 << 3)
    /// `UFFD_EVENT_UNMAP`.
    public static let eventUnmap = UserfaultfdFeatures(rawValue: 1 << 6)
    /// Faults raise SIGBUS in the faulting thread instead of waiting for a handler (4.14).
    public static let sigbus = UserfaultfdFeatures(rawValue: 1 << 7)
    /// Fault messages carry the faulting thread id.
    public static let threadID = UserfaultfdFeatures(rawValue: 1 << 8)
    /// Write protection also covers empty page table entries (6.4).
    public static let wpUnpopulated = UserfaultfdFeatures(rawValue: 1 << 13)
    /// `UFFDIO_POISON` (6.6).
    public static let poison = UserfaultfdFeatures(rawValue: 1 << 14)
    /// Asynchronous write protection, resolved by the kernel (6.7).
    public static let wpAsync = UserfaultfdFeatures(rawValue: 1 << 15)
    /// `UFFDIO_MOVE` (6.8).
    public static let move = UserfaultfdFeatures(rawValue: 1 << 16)

    /// What every swap region needs: write-protect faults (eviction write-protects a page
    /// before compressing it, lazy regions map clean pages write-protected).
    public static let required: UserfaultfdFeatures = [.pagefaultFlagWP]

    /// The feature names, as `UFFD_FEATURE_*` without the prefix, and the raw bits.
    public var description: String {
        let names: [(UserfaultfdFeatures, String)] = [
            (.pagefaultFlagWP, "PAGEFAULT_FLAG_WP"), (.eventFork, "EVENT_FORK"), (.eventRemap, "EVENT_REMAP"),
            (.eventRemove, "EVENT_REMOVE"), (.eventUnmap, "EVENT_UNMAP"), (.sigbus, "SIGBUS"),
            (.threadID, "THREAD_ID"), (.wpUnpopulated, "WP_UNPOPULATED"), (.poison, "POISON"),
            (.wpAsync, "WP_ASYNC"), (.move, "MOVE"),
        ]
        let present = names.filter { contains($0.0) }.map(\.1)
        return "[" + present.joined(separator: ", ") + "] (0x" + String(rawValue, radix: 16) + ")"
    }
}

#if os(Linux)
/// A userfaultfd descriptor, in swift-system style: each operation is one ioctl and reports
/// failure as an `Errno`. The fault-path operations (copy, zeropage, write-protect, wake,
/// poison, move) return the error instead of throwing it and are async-signal-safe: a SIGBUS
/// handler serving a fault calls them.
///
/// ```swift
/// let uffd = try Userfaultfd.open()
/// defer { uffd.close() }
/// let granted = try uffd.handshake(requesting: [.pagefaultFlagWP])
/// try uffd.register(memory, length: size, writeProtect: true)
/// // On a missing-page fault at `address`, install a page read into `frame`:
/// if let error = uffd.copy(to: address, from: frame, length: 4096, writeProtected: false) { ... }
/// ```
///
/// The value is a plain view of the descriptor and does not own its lifetime: ``close()`` ends
/// it, exactly once, by whoever owns it (``OwnedUserfaultfd`` owns one and closes it itself).
public struct Userfaultfd: Sendable {
    /// The descriptor.
    public let fd: Int32

    /// A view of an open userfaultfd descriptor `fd` (one made elsewhere, or inherited).
    public init(fd: Int32) {
        self.fd = fd
    }

    /// Opens a user-mode-only, non-blocking, close-on-exec userfaultfd. Throws ENOSYS (no
    /// userfaultfd in this kernel), EPERM (a seccomp filter, or `vm.unprivileged_userfaultfd=0`
    /// before Linux 5.11), EINVAL (a kernel without `UFFD_USER_MODE_ONLY`).
    public static func open() throws(Errno) -> Userfaultfd {
        let rc = cuswap_userfaultfd(O_CLOEXEC | O_NONBLOCK | cuswap_uffd_user_mode_only)
        if rc < 0 { throw Errno(rawValue: -rc) }
        return Userfaultfd(fd: rc)
    }

    /// The `UFFDIO_API` handshake: requests `features`, returns what the kernel supports.
    /// Throws EINVAL when the kernel lacks a requested feature (or the handshake was done).
    public func handshake(requesting features: UserfaultfdFeatures) throws(Errno) -> UserfaultfdFeatures {
        var bits = features.rawValue
        var ioctls: UInt64 = 0
        let rc = cuswap_uffd_api_handshake(fd, &bits, &ioctls)
        if rc != 0 { throw Errno(rawValue: rc) }
        return UserfaultfdFeatures(rawValue: bits)
    }

    /// Registers a range for missing-page and (optionally) write-protect faults.
    public func register(_ start: UnsafeMutableRawPointer, length: Int, writeProtect: Bool) throws(Errno) {
        var ioctls: UInt64 = 0
        let mode = cuswap_register_mode_missing | (writeProtect ? cuswap_register_mode_wp : 0)
        let rc = cuswap_uffd_register(fd, UInt64(UInt(bitPattern: start)), UInt64(length), mode, &ioctls)
        if rc != 0 { throw Errno(rawValue: rc) }
    }

    /// Unregisters a range.
    public func unregister(_ start: UnsafeMutableRawPointer, length: Int) throws(Errno) {
        let rc = cuswap_uffd_unregister(fd, UInt64(UInt(bitPattern: start)), UInt64(length))
        if rc != 0 { throw Errno(rawValue: rc) }
    }

    /// `UFFDIO_COPY` of `length` bytes; `writeProtected` maps the page write-protected;
    /// `wake: false` leaves waiting threads asleep (the caller wakes them after publishing).
    /// Returns nil on success, or the errno (EEXIST: the page is already mapped).
    @inline(__always)
    public func copy(to dst: UInt, from src: UnsafeRawPointer, length: Int, writeProtected: Bool, wake: Bool = true) -> Errno? {
        var copied: Int64 = 0
        let mode = (writeProtected ? cuswap_copy_mode_wp : 0) | (wake ? 0 : cuswap_copy_mode_dontwake)
        let rc = cuswap_uffd_copy(fd, UInt64(dst), UInt64(UInt(bitPattern: src)), UInt64(length), mode, &copied)
        return rc == 0 ? nil : Errno(rawValue: rc)
    }

    /// `UFFDIO_ZEROPAGE`: maps the shared zero page (writable: no write-protect mode exists).
    @inline(__always)
    public func zeropage(at start: UInt, length: Int, wake: Bool = true) -> Errno? {
        let rc = cuswap_uffd_zeropage(fd, UInt64(start), UInt64(length), wake ? 0 : UInt64(UFFDIO_ZEROPAGE_MODE_DONTWAKE))
        return rc == 0 ? nil : Errno(rawValue: rc)
    }

    /// `UFFDIO_WRITEPROTECT`: sets or clears write protection (clearing wakes waiters).
    @inline(__always)
    public func writeProtect(_ start: UInt, length: Int, enable: Bool, wake: Bool = true) -> Errno? {
        let rc = cuswap_uffd_writeprotect(fd, UInt64(start), UInt64(length), enable ? 1 : 0, wake ? 0 : 1)
        return rc == 0 ? nil : Errno(rawValue: rc)
    }

    /// `UFFDIO_WAKE`: wakes threads waiting on a range.
    @inline(__always)
    public func wake(_ start: UInt, length: Int) -> Errno? {
        let rc = cuswap_uffd_wake(fd, UInt64(start), UInt64(length))
        return rc == 0 ? nil : Errno(rawValue: rc)
    }

    /// `UFFDIO_POISON`: accesses to the range raise SIGBUS.
    @inline(__always)
    public func poison(_ start: UInt, length: Int) -> Errno? {
        let rc = cuswap_uffd_poison(fd, UInt64(start), UInt64(length))
        return rc == 0 ? nil : Errno(rawValue: rc)
    }

    /// `UFFDIO_MOVE`: moves pages from `src` to `dst` (dst registered, empty).
    @inline(__always)
    public func move(to dst: UInt, from src: UInt, length: Int) -> Errno? {
        var moved: Int64 = 0
        let rc = cuswap_uffd_move(fd, UInt64(dst), UInt64(src), UInt64(length), 0, &moved)
        return rc == 0 ? nil : Errno(rawValue: rc)
    }

    /// Closes the descriptor.
    public func close() {
        _ = Glibc.close(fd)
    }
}
#endif
