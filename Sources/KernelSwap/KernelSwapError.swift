/// Why the kernel's swap could not be measured, or what went wrong while measuring it.
public enum KernelSwapError: Error, Equatable, CustomStringConvertible {
    /// The machine does not allow the measurement (not root, no zram0, zram0 in use, no cgroup
    /// v1 memory controller, another swap active); nothing was changed.
    case unavailable(String)
    /// A step failed; the message says which, and everything changed so far was put back.
    case failed(String)
    /// Putting the machine back failed: the message says what is left to undo by hand.
    case restoreFailed(String)

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .unavailable(let reason): reason
        case .failed(let message): message
        case .restoreFailed(let message): "could not restore the machine: \(message)"
        }
    }
}
