import SystemSupport

/// Why a tier could not store or read an object, with what to do about it.
public enum PageTierError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An object larger than the tier (or the batch) takes.
    case objectTooLarge(size: Int, limit: Int)
    /// A batch that already holds as many objects as it was made for.
    case batchFull(capacity: Int)
    /// The tier could not be reached within its retry window.
    case unavailable(String)
    /// Some objects of a write were not acknowledged (the caller kept them); the reason.
    case notAcknowledged(String)
    /// The tier holds as many objects as it can (a file whose blocks are all in use); the
    /// objects stay with the caller.
    case full(capacity: Int)
    /// Nothing is stored under the handle.
    case missing(handle: UInt64)
    /// What is stored under the handle failed its checksum or format check.
    case corrupt(handle: UInt64, reason: String)
    /// A read buffer smaller than the object.
    case bufferTooSmall(needed: Int, available: Int)
    /// An I/O error from a file tier (errno value and what was being done).
    case io(errno: Int32, operation: String)
    /// The tier was closed.
    case closed

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .objectTooLarge(let size, let limit):
            "an object of \(size) bytes is larger than the \(limit) bytes the tier takes: store the page raw (\(limit) bytes) or compress it"
        case .batchFull(let capacity):
            "the batch already holds its \(capacity) objects: write it, then removeAll() before appending more"
        case .unavailable(let reason):
            "the tier could not be reached: \(reason); nothing was freed, the caller still owns the page"
        case .notAcknowledged(let reason):
            "not acknowledged: \(reason); the pages stay in memory and can be written again"
        case .full(let capacity):
            "the tier's \(capacity) places are all in use: the pages stay in memory; free some, or give the tier more room (a larger file)"
        case .missing(let handle):
            "nothing is stored under handle 0x\(String(handle, radix: 16)): it was freed, never acknowledged, or removed by someone else (gc of an expired lease?)"
        case .corrupt(let handle, let reason):
            "the object under handle 0x\(String(handle, radix: 16)) is corrupt: \(reason); nothing was freed"
        case .bufferTooSmall(let needed, let available):
            "a buffer of \(available) bytes cannot hold the \(needed)-byte object: pass a buffer of the tier's maxObjectSize"
        case .io(let errno, let operation): "I/O error \(errno) during \(operation); nothing was freed"
        case .closed: "the tier was closed: make a new one"
        }
    }
}

extension PageStoreError {
    /// The error a store (a zram device, a frontswap cache) reports for a tier's `error` about
    /// `slot` (-1: a whole batch): an I/O error stays one, with its errno; a corrupt or missing
    /// object is a corrupt slot (nothing is handed out); an unreachable tier is `ETIMEDOUT`.
    public init(tierError error: PageTierError, slot: Int) {
        let subject = slot >= 0 ? "slot \(slot): " : ""
        switch error {
        case .io(let code, let operation): self = .io(errno: code, operation: operation)
        case .corrupt(_, let reason): self = .corrupt(slot: slot, reason: reason)
        case .missing: self = .corrupt(slot: slot, reason: error.description)
        case .unavailable: self = .io(errno: ETIMEDOUT, operation: "read of \(subject)\(error.description)")
        default: self = .io(errno: EIO, operation: subject + error.description)
        }
    }
}
