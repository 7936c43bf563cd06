/// A contiguous run of pages of another process: `length` bytes from `address`.
public struct RemoteSegment: Equatable, Sendable {
    /// The first address.
    public var address: UInt
    /// The length in bytes, a multiple of the page size.
    public var length: Int

    /// `length` bytes from `address`.
    public init(address: UInt, length: Int) {
        self.address = address
        self.length = length
    }
}

/// Reads pages of another process without stopping it.
///
/// Implementations: ``VMReadvPageReader`` (process_vm_readv), ``ProcMemPageReader``
/// (`/proc/PID/mem`), and test hooks that wrap them.
public protocol ProcessPageReader: AnyObject {
    /// Reads `segments` back to back into `buffer` (whose size is at least their total length)
    /// and returns how many bytes were read: a prefix of the segments. A short count means the
    /// page at that point could not be read (it was unmapped meanwhile); the caller skips it.
    ///
    /// - Throws: ``ProcessMemoryError/processExited(pid:)`` when the process is gone,
    ///   ``ProcessMemoryError/permissionDenied(pid:operation:)`` when access is refused.
    func read(_ segments: UnsafeBufferPointer<RemoteSegment>, into buffer: UnsafeMutableRawBufferPointer)
        throws(ProcessMemoryError) -> Int
}
