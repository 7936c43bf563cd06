import PageStore
import Swap
import SystemPackage

/// Why a soak could not run (its findings are not errors: they are counted in ``SoakTotals``).
public enum SoakError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Swap regions cannot run here (no userfaultfd, or not permitted).
    case regionsUnavailable(SwapError)
    /// A round's backing file could not be made.
    case backingFile(directory: String, PageStoreError)
    /// A round's backend or region could not be made with its plan.
    case setup(round: Int, String)
    /// The worker or child executable could not be started.
    case spawn(executable: String, Errno)
    /// An option is out of range.
    case invalidOption(String)

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .regionsUnavailable(let error): "swap regions cannot run here: \(error)"
        case .backingFile(let directory, let error):
            "cannot make a backing file in \(directory): \(error); pass a writable directory with --dir"
        case .setup(let round, let text): "round \(round) could not be set up: \(text)"
        case .spawn(let executable, let errno): "cannot start \(executable): \(errno)"
        case .invalidOption(let text): text
        }
    }
}
