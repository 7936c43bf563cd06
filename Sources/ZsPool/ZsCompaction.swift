/// A compaction in progress, handed to the owner's visitor by ``ZsPool/compact(_:)``.
///
/// It exists only during that call (it is borrowed, never stored): the pool has marked its
/// source spans evacuating, and the owner offers each object it owns to ``relocate(_:inClass:byteCount:)``.
public struct ZsCompaction: ~Copyable {
    /// The pool being compacted.
    let pool: ZsPool

    init(pool: ZsPool) { self.pool = pool }

    /// Moves `handle`'s object (class `c`) out of an evacuating span: allocates its new home in
    /// a span that stays, copies its first `byteCount` bytes there and returns the new handle;
    /// returns `nil` (and moves nothing) when the object's span stays.
    ///
    /// The caller holds what orders the object's bytes (its slot lock) across this call and
    /// until it has stored the new handle; then it frees the old handle with
    /// ``ZsPool/free(_:inClass:)`` (after dropping its lock, if it likes).
    public func relocate(_ handle: ZsHandle, inClass c: Int, byteCount: Int) -> ZsHandle? {
        guard let target = pool.relocationTarget(for: handle, inClass: c) else { return nil }
        pool.address(of: target, inClass: c).copyMemory(from: pool.address(of: handle, inClass: c), byteCount: byteCount)
        return target
    }
}
