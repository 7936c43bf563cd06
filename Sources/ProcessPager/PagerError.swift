import SystemPackage
import SystemSupport

/// Why a pager could not start or a program could not be run under it. Each message says what
/// happened and what to do.
public enum PagerError: Error, Equatable, CustomStringConvertible {
    /// The configuration cannot work.
    case invalidConfiguration(String)
    /// This process cannot make a userfaultfd that also serves faults taken inside system calls.
    case fullUserfaultfdUnavailable(Errno)
    /// The kernel's userfaultfd lacks features the pager needs (given as raw feature bits).
    case missingFeatures(have: UInt64, need: UInt64)
    /// The listening socket could not be made.
    case socket(name: String, Errno)
    /// A system resource (thread, eventfd, epoll, table reservation) could not be made.
    case resource(String, Errno)
    /// The second tier (`--tier`, named) could not be opened, with the reason.
    case secondTier(String, String)

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .invalidConfiguration(let problem):
            "cannot run: \(problem)"
        case .fullUserfaultfdUnavailable(let errno):
            "cannot manage a program's memory (userfaultfd: \(errno)): a userfaultfd that also serves faults the kernel takes inside system calls (read(2) into a swapped-out buffer) needs one of: root, CAP_SYS_PTRACE, read-write access to /dev/userfaultfd (Linux 6.1+), or the sysctl vm.unprivileged_userfaultfd=1. Without it such calls would fail with EFAULT, so uswap run refuses to start"
        case .missingFeatures(let have, let need):
            "this kernel's userfaultfd has features 0x\(String(have, radix: 16)) but uswap run needs 0x\(String(need, radix: 16)) (fork, remap, remove and unmap events, write-protect faults, UFFDIO_MOVE): use Linux 6.8 or later"
        case .socket(let name, let errno):
            "cannot listen on the abstract socket @\(name) (\(errno)): another uswap run with this process id? Try again"
        case .resource(let what, let errno):
            "cannot make \(what) (\(errno)): the process is out of a system resource; free some and try again"
        case .secondTier(let tier, let reason):
            "cannot open the second tier \(tier): \(reason)"
        }
    }
}
