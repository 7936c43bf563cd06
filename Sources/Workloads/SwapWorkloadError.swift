/// What went wrong setting up or running the swap workload.
public enum SwapWorkloadError: Error, CustomStringConvertible, Equatable {
    /// A parameter or input is unusable; the message says which and why.
    case invalid(String)

    /// The message.
    public var description: String {
        switch self {
        case .invalid(let message): message
        }
    }
}
