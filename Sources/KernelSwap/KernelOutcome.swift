/// The kernel's side of a comparison: measured, not asked for, not measurable here, or failed.
public enum KernelOutcome: Sendable, CustomStringConvertible {
    /// The child's report.
    case measured(KernelChildReport)
    /// The kernel's side was not asked for.
    case notRequested
    /// The machine does not allow it (the reason); nothing was changed.
    case unavailable(String)
    /// It failed (the reason); the machine was put back, or the reason says what is left.
    case failed(String)

    /// One line for messages: "measured (12.34 us/touch)", "not requested", or the reason.
    public var description: String {
        switch self {
        case .measured(let report):
            let hundredths = Int((report.usPerTouch * 100).rounded())
            let fraction = hundredths % 100
            return "measured (\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) us/touch)"
        case .notRequested: return "not requested"
        case .unavailable(let reason), .failed(let reason): return reason
        }
    }
}
