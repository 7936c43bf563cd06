/// What went wrong in a page store, with what to do about it.
public enum PageStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A slot index outside `0..<slotCount`.
    case slotOutOfRange(slot: Int, slotCount: Int)
    /// A read of a slot that holds nothing.
    case emptySlot(slot: Int)
    /// The write would take the store over its memory limit; the slot keeps its old contents.
    case memoryLimitExceeded(limit: Int, needed: Int)
    /// A buffer whose size is not the store's page size.
    case wrongPageSize(expected: Int, actual: Int)
    /// Stored data failed to decode or verify.
    case corrupt(slot: Int, reason: String)
    /// An I/O error from a backing file (errno value and what was being done).
    case io(errno: Int32, operation: String)
    /// The store was configured wrongly (a size, a limit, a path).
    case invalidConfiguration(String)

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .slotOutOfRange(let s, let n): "slot \(s) is outside the device's \(n) slots"
        case .emptySlot(let s): "slot \(s) holds no page: write it before reading it"
        case .memoryLimitExceeded(let l, let n):
            "memory limit of \(l) bytes reached (\(n) bytes needed); the slot kept its old contents: raise mem_limit, compact, or free slots"
        case .wrongPageSize(let e, let a): "buffer of \(a) bytes where a page of \(e) bytes was expected"
        case .corrupt(let s, let r): "slot \(s) is corrupt: \(r)"
        case .io(let e, let op): "I/O error \(e) during \(op); nothing was freed"
        case .invalidConfiguration(let m): m
        }
    }
}
