import PageStore
import SystemPackage

/// What went wrong in a swap region, with what to do about it.
public enum SwapError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kernel has no userfaultfd system call (ENOSYS): a kernel older than 4.3 or one built
    /// without CONFIG_USERFAULTFD.
    case userfaultfdUnsupported
    /// userfaultfd exists but this process may not use it: `errno` is EPERM (a seccomp filter,
    /// such as a container runtime's default profile, or `vm.unprivileged_userfaultfd=0` on a
    /// kernel without `UFFD_USER_MODE_ONLY`) or another error opening the descriptor.
    case userfaultfdDenied(errno: Errno, reason: String)
    /// The kernel's userfaultfd lacks features a region needs.
    case missingFeatures(UserfaultfdFeatures)
    /// The configuration cannot work (a size, a limit, a page size).
    case invalidConfiguration(String)
    /// A system call the region needs failed.
    case systemCall(String, errno: Errno)
    /// Every registration slot of the process-wide SIGBUS handler is taken.
    case tooManyRegions(limit: Int)
    /// A caller's buffer has the wrong size.
    case wrongBufferSize(expected: Int, actual: Int)
    /// A buffer the region would read pages into lies inside the region itself.
    case bufferInsideRegion
    /// A byte range outside the region.
    case rangeOutOfBounds(Range<Int>, size: Int)
    /// An element index outside a ``SwapArray``.
    case indexOutOfBounds(index: Int, count: Int)
    /// The backend failed; nothing was freed.
    case backend(PageStoreError)
    /// A page could not be brought in (the backend failed or the resident limit cannot be met).
    case pageUnavailable(page: Int, reason: String)
    /// The region was closed.
    case closed

    /// What happened and what to do about it.
    public var description: String {
        switch self {
        case .userfaultfdUnsupported:
            "userfaultfd is not available on this kernel (ENOSYS): use a kernel >= 4.3 built with CONFIG_USERFAULTFD"
        case .userfaultfdDenied(let errno, let reason):
            "userfaultfd is not permitted here (\(errno)): \(reason)"
        case .missingFeatures(let missing):
            "this kernel's userfaultfd lacks features a swap region needs: \(missing); use Linux >= 5.7"
        case .invalidConfiguration(let message): message
        case .systemCall(let call, let errno): "\(call) failed: \(errno)"
        case .tooManyRegions(let limit):
            "all \(limit) swap region registrations are in use: close regions you no longer need"
        case .wrongBufferSize(let expected, let actual):
            "buffer of \(actual) bytes where \(expected) bytes were expected"
        case .bufferInsideRegion:
            "the buffer overlaps the swap region it would be filled from: pass memory outside the region"
        case .rangeOutOfBounds(let range, let size):
            "byte range \(range) lies outside the region of \(size) bytes"
        case .indexOutOfBounds(let index, let count):
            "index \(index) is outside the swap array's \(count) elements: use 0..<\(count)"
        case .backend(let error): "the swap backend failed: \(error)"
        case .pageUnavailable(let page, let reason): "page \(page) could not be made resident: \(reason)"
        case .closed: "the swap region was closed; create a new one"
        }
    }
}
