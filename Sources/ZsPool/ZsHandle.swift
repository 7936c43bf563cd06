/// One object in a ``ZsPool``: an integer, never a pointer, as zsmalloc's handles are.
///
/// The raw value is `span << 16 | object`: the index of the span (zsmalloc's zspage) and the
/// object's position in it. A handle says nothing about the object's size class; the owner
/// keeps the size (in its slot table) and passes the class to every call. A handle is valid
/// from ``ZsPool/allocate(inClass:mayGrow:)`` until it is given to ``ZsPool/free(_:inClass:)``
/// or replaced by a compaction (``ZsCompaction/relocate(_:inClass:byteCount:)``).
@frozen public struct ZsHandle: Hashable, Sendable, CustomStringConvertible {
    /// `span << 16 | object`, for storing the handle in a table of integers.
    public let rawValue: UInt64

    /// The handle whose raw value is `rawValue` (as stored by the owner).
    @inlinable @inline(__always)
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The handle of object `object` of span `span`.
    @inlinable @inline(__always)
    init(span: UInt32, object: UInt16) { rawValue = UInt64(span) << 16 | UInt64(object) }

    /// The span's index.
    @inlinable @inline(__always)
    var span: Int { Int(truncatingIfNeeded: rawValue >> 16) }

    /// The object's position in its span.
    @inlinable @inline(__always)
    var object: Int { Int(truncatingIfNeeded: rawValue & 0xFFFF) }

    /// `span:object`.
    public var description: String { "\(span):\(object)" }
}
