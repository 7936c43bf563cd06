/// Safe access to a region's memory: spans whose lifetime ends with the closure, so no pointer
/// into the region outlives the call.
///
/// The spans cover the whole region. Reading or writing through them is plain memory access:
/// a swapped-out page faults back in on the way, exactly as with ``SwapRegion/baseAddress``.
///
/// Lifetime dependence: a property such as `region.bytes: RawSpan` would need the experimental
/// `Lifetimes` feature (`@_lifetime(borrow self)`) in Swift 6.3; a library product cannot ask
/// every client to enable an experimental feature, so these closures, whose spans cannot escape
/// them, are the stable form.
extension SwapRegion {
    /// Calls `body` with the region's bytes, read-only.
    ///
    /// ```swift
    /// let checksum = region.withBytes { bytes in
    ///     var sum: UInt64 = 0
    ///     for offset in stride(from: 0, to: bytes.byteCount, by: 8) {
    ///         sum &+= bytes.unsafeLoad(fromByteOffset: offset, as: UInt64.self)
    ///     }
    ///     return sum
    /// }
    /// ```
    ///
    /// The region must be open (a precondition: its memory is gone after ``close()``).
    public func withBytes<Result, Failure: Error>(
        _ body: (RawSpan) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        precondition(!isClosed, "the swap region was closed: its memory is gone")
        return try body(UnsafeRawBufferPointer(start: baseAddress, count: size).bytes)
    }

    /// Calls `body` with the region's bytes, writable.
    ///
    /// ```swift
    /// region.withMutableBytes { bytes in
    ///     bytes.storeBytes(of: 42, toByteOffset: 8 * 4096, as: UInt64.self)
    /// }
    /// ```
    ///
    /// Other threads may use the region meanwhile (the span is exclusive only within the calling
    /// thread): bytes that two threads write at once race, as with any memory. The region must be
    /// open (a precondition).
    public func withMutableBytes<Result, Failure: Error>(
        _ body: (inout MutableRawSpan) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        precondition(!isClosed, "the swap region was closed: its memory is gone")
        var bytes = UnsafeMutableRawBufferPointer(start: baseAddress, count: size).mutableBytes
        return try body(&bytes)
    }
}
