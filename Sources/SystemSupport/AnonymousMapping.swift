import SystemPackage

/// An owned range of private anonymous memory (`mmap`), unmapped when the owner goes away.
///
/// Owner and lifetime: the value owns `base..<base+size` from ``init(size:reserveOnly:)`` until it
/// is destroyed (`deinit` calls `munmap`) or ``release()`` hands the range to the caller.
/// Invariant: `size` is a positive multiple of the page size and the range stays mapped while the
/// value lives. Pointers into it must not outlive the value.
public struct AnonymousMapping: ~Copyable, @unchecked Sendable {
    /// The first byte of the range.
    public let base: UnsafeMutableRawPointer
    /// The range's length in bytes.
    public let size: Int
    private var owned = true

    /// The system's page size (4 KiB on x86-64).
    public static let pageSize: Int = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Maps `size` bytes (rounded up to whole pages) of zero-filled private anonymous memory.
    /// With `reserveOnly`, the range costs no memory until touched and is not counted against
    /// the overcommit limit (`MAP_NORESERVE`). Transparent huge pages are turned off for it:
    /// a pager works in base pages. Throws the `Errno` mmap returned.
    public init(size: Int, reserveOnly: Bool = true) throws(Errno) {
        let page = Self.pageSize
        guard size > 0 else { throw Errno.invalidArgument }
        let rounded = (size + page - 1) / page * page
        #if os(Linux)
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | (reserveOnly ? MAP_NORESERVE : 0)
        #else
        let flags = MAP_PRIVATE | MAP_ANON
        #endif
        guard let address = mmap(nil, rounded, PROT_READ | PROT_WRITE, flags, -1, 0), address != MAP_FAILED else {
            throw SystemCall.lastError
        }
        #if os(Linux)
        _ = madvise(address, rounded, MADV_NOHUGEPAGE)
        #endif
        base = address
        self.size = rounded
    }

    /// Gives `offset..<offset+length` back to the system at once; the pages read as zeros when
    /// touched again. Both must be page-aligned and inside the range.
    public func discard(offset: Int, length: Int) {
        precondition(offset >= 0 && length >= 0 && offset + length <= size, "discard outside the mapping")
        #if os(Linux)
        _ = madvise(base + offset, length, MADV_DONTNEED)
        #else
        _ = madvise(base + offset, length, MADV_FREE)
        #endif
    }

    /// Ends ownership without unmapping: the caller now owns the range and must `munmap` it.
    public consuming func release() -> UnsafeMutableRawBufferPointer {
        owned = false
        return UnsafeMutableRawBufferPointer(start: base, count: size)
    }

    deinit {
        if owned { _ = munmap(base, size) }
    }
}
