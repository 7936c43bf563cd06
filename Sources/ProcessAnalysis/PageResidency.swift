/// The state of one virtual page, from its `/proc/PID/pagemap` entry.
public enum PageResidency: Equatable, Sendable {
    /// In RAM (bit 63): readable without changing anything.
    case present
    /// Swapped out (bit 62): reading it would swap it back in, so it is skipped.
    case swapped
    /// Neither: never touched, or dropped. Reading it would fault in a page, so it is skipped.
    case notPresent

    /// Decodes a pagemap entry.
    public init(pagemapEntry entry: UInt64) {
        if entry & (1 << 63) != 0 {
            self = .present
        } else if entry & (1 << 62) != 0 {
            self = .swapped
        } else {
            self = .notPresent
        }
    }
}
