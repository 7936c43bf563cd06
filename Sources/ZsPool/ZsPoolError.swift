/// Why a ``ZsPool`` could not be made, with what to do about it. (Allocation itself never
/// throws: ``ZsPool/allocate(inClass:mayGrow:)`` returns `nil` at the memory limit.)
public enum ZsPoolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A page size or span count the pool cannot work with.
    case invalidConfiguration(String)
    /// The system refused to reserve the pool's address range.
    case outOfAddressSpace(bytes: Int)

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .invalidConfiguration(let message): message
        case .outOfAddressSpace(let bytes):
            "could not reserve \(bytes) bytes of address space for the pool: give it fewer spans (a smaller disksize or slot count)"
        }
    }
}
