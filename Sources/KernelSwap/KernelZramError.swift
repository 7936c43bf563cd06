import SystemPackage

/// What went wrong with a kernel zram device, and what to do.
public enum KernelZramError: Error, Equatable, CustomStringConvertible {
    /// The kernel's zram cannot be used here at all (not root, no device, module not loaded).
    case unavailable(String)
    /// The device is in use by someone else; it was not touched.
    case inUse(device: String, reasons: [String])
    /// The kernel does not offer the requested compression algorithm.
    case unsupportedAlgorithm(device: String, requested: String, available: [String])
    /// A sysfs or proc file could not be read or written.
    case sysfs(path: String, operation: String, errno: Errno)
    /// A sysfs file held text this code does not understand.
    case malformed(path: String, text: String)
    /// The device could not be put back as it was found.
    case restoreFailed(device: String, reason: String)

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .unavailable(let reason): reason
        case .inUse(let device, let reasons):
            "\(device) is in use: \(reasons.joined(separator: ", ")); it was left alone"
        case .unsupportedAlgorithm(let device, let requested, let available):
            "\(device) has no \(requested) (available: \(available.joined(separator: " ")))"
        case .sysfs(let path, let operation, let code):
            "cannot \(operation) \(path): \(code) (errno \(code.rawValue))"
        case .malformed(let path, let text):
            "unexpected contents in \(path): \(text.debugDescription)"
        case .restoreFailed(let device, let reason):
            "could not restore \(device): \(reason); check it with `cat /sys/block/\(device)/disksize` and reset it with `echo 1 > /sys/block/\(device)/reset`"
        }
    }
}
