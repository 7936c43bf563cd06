/// One span's bookkeeping (zsmalloc's `struct zspage`), kept in the pool's preallocated array.
///
/// Free objects form an intrusive list: a freed object's first two bytes hold the index of the
/// next free object. Objects at `bump` and above were never handed out since the span was set
/// up, so a new span needs no initialisation pass. Read and written only under the lock of the
/// span's class (see ``ZsPool``).
struct SpanDescriptor {
    /// Where the span is in its life.
    enum State: UInt8 {
        /// Not set up; its index is on the free-span stack (or never used).
        case free
        /// In its class's partial list: has at least one free object.
        case partial
        /// Every object in use; on no list.
        case full
        /// Chosen by compaction as a source: on no list, receives no new objects.
        case evacuating
        /// An evacuating span whose last object left: memory returned, index held by compaction.
        case drained
    }

    /// The span's size class.
    var classIndex: UInt16 = 0
    /// Objects handed out and not freed.
    var inUse: UInt16 = 0
    /// Objects below this index were handed out at least once since the span was set up.
    var bump: UInt16 = 0
    /// The first free object below `bump`, or ``noObject``.
    var freeHead: UInt16 = SpanDescriptor.noObject
    /// The previous span on the class's partial list, or ``noSpan``.
    var previous: UInt32 = SpanDescriptor.noSpan
    /// The next span on the class's partial list, or ``noSpan``.
    var next: UInt32 = SpanDescriptor.noSpan
    /// Where the span is in its life.
    var state: State = .free
    /// Pages of the span backed and counted in mem_used: those the objects up to `bump` reach.
    var committedPages: UInt8 = 0

    /// The end of a free-object list.
    static let noObject: UInt16 = 0xFFFF
    /// The end of a span list.
    static let noSpan: UInt32 = 0xFFFF_FFFF
}
