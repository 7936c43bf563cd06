import SystemSupport
import Synchronization

/// One span's bookkeeping (zsmalloc's `struct zspage`), kept in a preallocated array.
///
/// Free objects form an intrusive list: a freed object's first two bytes hold the index of the
/// next free object. Objects at `bump` and above were never handed out since the span was set
/// up, so a new span needs no initialisation pass.
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

    var classIndex: UInt16 = 0
    var inUse: UInt16 = 0
    var bump: UInt16 = 0
    var freeHead: UInt16 = SpanDescriptor.noObject
    var previous: UInt32 = SpanDescriptor.noSpan
    var next: UInt32 = SpanDescriptor.noSpan
    var state: State = .free
    /// Pages of the span backed and counted in mem_used: those the objects up to `bump` reach.
    var committedPages: UInt8 = 0

    static let noObject: UInt16 = 0xFFFF
    static let noSpan: UInt32 = 0xFFFF_FFFF
}

/// A size-class allocator for compressed pages, in the spirit of the kernel's zsmalloc.
///
/// **Memory and ownership.** The pool owns one reserved range of address space
/// (`maximumSpans x 8 pages`, MAP_NORESERVE, no transparent huge pages) that costs nothing until
/// touched. Span `s` lives at `base + s * spanStride`; a class's span uses the first
/// `pagesPerSpan` pages of its stride. Unlike zsmalloc, which allocates a zspage's pages all at
/// once, a span commits a page only when an object first reaches it (objects are handed out in
/// address order before freed ones are reused), so a class's last, partly filled span holds no
/// untouched pages. When a span empties its pages go back to the system at once
/// (MADV_DONTNEED), as zsmalloc frees an empty zspage. `memUsed` counts every committed page of
/// every live span, used or not: the kernel's `mem_used_total`. The descriptor array and the free-span
/// stack are allocated once in `init` (sized from the slot count) and freed in `deinit`; the
/// store path never allocates.
///
/// **Handles** are integers, `span << 16 | object`, never pointers. An object has no header:
/// its size lives in the caller's slot table, and compaction finds owners by scanning that table.
///
/// **Invariants** (checked by ``checkInvariants()``): a class's partial list holds exactly its
/// spans in state `.partial`, each with `0 < inUse < objectsPerSpan`; full spans have
/// `inUse == objectsPerSpan`; per span `inUse + freeListLength + (objectsPerSpan - bump) ==
/// objectsPerSpan`; a span's committed pages are exactly those its first `bump` objects reach;
/// the class's object and span counts match its descriptors; `memUsed` is the sum of live
/// spans' committed pages. Descriptors of a class are read and written only under that class's
/// lock; the free-span stack only under its own lock.
///
/// **Thread safety.** `@unchecked Sendable`: all shared mutable state is guarded as above;
/// object bytes are owned by whoever holds the handle (the device's slot lock orders them).
final class ZsPool: @unchecked Sendable {
    /// Class-wide state, guarded by the class's spin lock.
    struct ClassState {
        var partialHead: UInt32 = SpanDescriptor.noSpan
        var spans = 0
        var objects = 0
    }

    struct SpanStack {
        var count = 0
        var neverUsed = 0
    }

    let classes: SizeClassTable
    let pageSize: Int
    let spanStride: Int
    let maximumSpans: Int
    let memoryLimit: Int
    private let base: UnsafeMutableRawPointer
    private let reservedBytes: Int
    private let descriptors: UnsafeMutablePointer<SpanDescriptor>
    private let classLocks: UnsafeMutablePointer<SpinLock>
    private let classStates: UnsafeMutablePointer<ClassState>
    private let freeSpans: UnsafeMutablePointer<UInt32>
    private let spanStackLock = SpinLock()
    private let spanStack: UnsafeMutablePointer<SpanStack>
    /// Byte size of each class's span, and each class's object size, as flat arrays.
    private let spanBytes: UnsafeMutablePointer<Int>
    private let objectSizes: UnsafeMutablePointer<Int>
    private let objectCounts: UnsafeMutablePointer<Int>
    private let used = Atomic<Int>(0)
    private let usedMax = Atomic<Int>(0)

    /// Makes a pool for at most `maximumSpans` live spans; `memoryLimit` 0 means none.
    init?(pageSize: Int, maximumSpans: Int, memoryLimit: Int) {
        classes = SizeClassTable(pageSize: pageSize)
        self.pageSize = pageSize
        spanStride = SizeClassTable.maximumPagesPerSpan * pageSize
        self.maximumSpans = maximumSpans
        self.memoryLimit = memoryLimit
        reservedBytes = maximumSpans * spanStride
        guard let reservation = SystemMemory.reserve(reservedBytes) else { return nil }
        base = reservation
        descriptors = .allocate(capacity: maximumSpans)
        descriptors.initialize(repeating: SpanDescriptor(), count: maximumSpans)
        freeSpans = .allocate(capacity: maximumSpans)
        freeSpans.initialize(repeating: 0, count: maximumSpans)
        let count = classes.count
        classLocks = .allocate(capacity: count)
        classStates = .allocate(capacity: count)
        classStates.initialize(repeating: ClassState(), count: count)
        spanStack = .allocate(capacity: 1)
        spanStack.initialize(to: SpanStack())
        spanBytes = .allocate(capacity: count)
        objectSizes = .allocate(capacity: count)
        objectCounts = .allocate(capacity: count)
        for c in 0..<count {
            (classLocks + c).initialize(to: SpinLock())
            spanBytes[c] = classes.pagesPerSpan[c] * pageSize
            objectSizes[c] = classes.sizes[c]
            objectCounts[c] = classes.objectsPerSpan[c]
        }
    }

    deinit {
        classLocks.deinitialize(count: classes.count)
        classLocks.deallocate()
        classStates.deallocate()
        spanStack.deallocate()
        spanBytes.deallocate()
        objectSizes.deallocate()
        objectCounts.deallocate()
        descriptors.deinitialize(count: maximumSpans)
        descriptors.deallocate()
        freeSpans.deallocate()
        SystemMemory.release(base, bytes: reservedBytes)
    }

    /// Bytes of every live span: the kernel's mem_used_total.
    var memUsed: Int { used.load(ordering: .relaxed) }
    /// The high-water mark of ``memUsed`` since creation or ``resetMemUsedMax()``.
    var memUsedMax: Int { usedMax.load(ordering: .relaxed) }
    /// Sets the high-water mark to the current use, as writing mem_used_max does.
    func resetMemUsedMax() { usedMax.store(used.load(ordering: .relaxed), ordering: .relaxed) }
    /// Bytes of bookkeeping outside the pool (descriptors, stack), reported on their own.
    var metadataBytes: Int {
        maximumSpans * (MemoryLayout<SpanDescriptor>.stride + MemoryLayout<UInt32>.stride)
    }

    /// The reserved address range (base, length), for residency checks.
    var reservation: (base: UnsafeMutableRawPointer, length: Int) { (base, reservedBytes) }

    /// The object size of class `c`.
    @inline(__always) func objectSize(ofClass c: Int) -> Int { objectSizes[c] }
    /// Bytes a new span of class `c` costs.
    @inline(__always) func spanSize(ofClass c: Int) -> Int { spanBytes[c] }

    /// The address of the object `handle` in class `c`. Valid while the caller owns the handle.
    @inline(__always)
    func address(of handle: UInt64, inClass c: Int) -> UnsafeMutableRawPointer {
        let span = Int(truncatingIfNeeded: handle >> 16)
        let object = Int(truncatingIfNeeded: handle & 0xFFFF)
        return base + (span &* spanStride &+ object &* objectSizes[c])
    }

    // MARK: Allocation

    /// Allocates an object in class `c`. Returns `nil` when a new span would pass the memory
    /// limit (or, with `mayGrow` false, when no existing span has room).
    func allocate(inClass c: Int, mayGrow: Bool = true) -> UInt64? {
        if let handle = classLocks[c].withLock({ takeObject(inClass: c, state: classStates + c) }) {
            return handle
        }
        guard mayGrow else { return nil }
        // A new span commits only the page its first object needs; more as objects reach them.
        guard reserve(pageSize) else { return nil }
        guard let span = popFreeSpan() else {
            used.subtract(pageSize, ordering: .relaxed)
            return nil
        }
        return classLocks[c].withLock { () -> UInt64? in
            let state = classStates + c
            descriptors[Int(span)] = SpanDescriptor(classIndex: UInt16(c), state: .partial, committedPages: 1)
            link(span, state: state)
            state.pointee.spans += 1
            return takeObject(inClass: c, state: state)
        }
    }

    /// Frees `handle` of class `c`; an emptied span goes back to the system at once.
    func free(_ handle: UInt64, inClass c: Int) {
        let span = UInt32(truncatingIfNeeded: handle >> 16)
        let object = UInt16(truncatingIfNeeded: handle & 0xFFFF)
        let objectAddress = address(of: handle, inClass: c)
        // 0: keep, 1: release the span and its index, 2: release memory, compaction keeps the index.
        let release: Int = classLocks[c].withLock { () -> Int in
            let state = classStates + c
            let d = descriptors + Int(span)
            objectAddress.storeBytes(of: d.pointee.freeHead, as: UInt16.self)
            d.pointee.freeHead = object
            d.pointee.inUse -= 1
            state.pointee.objects -= 1
            switch d.pointee.state {
            case .full:
                if d.pointee.inUse == 0 {
                    d.pointee.state = .free
                    state.pointee.spans -= 1
                    return 1
                }
                d.pointee.state = .partial
                link(span, state: state)
                return 0
            case .partial:
                guard d.pointee.inUse == 0 else { return 0 }
                unlink(span, state: state)
                d.pointee.state = .free
                state.pointee.spans -= 1
                return 1
            case .evacuating:
                guard d.pointee.inUse == 0 else { return 0 }
                d.pointee.state = .drained
                state.pointee.spans -= 1
                return 2
            case .free, .drained:
                preconditionFailure("ZsPool.free: handle \(handle) is in a span that holds no objects")
            }
        }
        if release != 0 {
            let bytes = Int(descriptors[Int(span)].committedPages) * pageSize  // the index is still ours
            SystemMemory.discard(base + Int(span) * spanStride, bytes: bytes)
            used.subtract(bytes, ordering: .relaxed)
            if release == 1 { pushFreeSpan(span) }
        }
    }

    // MARK: Compaction

    /// Chooses, in every class, the sparsest spans whose objects fit into the other partial
    /// spans, and marks them evacuating (no new objects land there). Returns them.
    func beginCompaction() -> [UInt32] {
        var sources: [UInt32] = []
        for c in 0..<classes.count {
            let capacity = objectCounts[c]
            guard capacity > 1 else { continue }
            classLocks[c].withLock { () -> Void in
            let state = classStates + c
                var partial: [(span: UInt32, inUse: Int)] = []
                var span = state.pointee.partialHead
                while span != SpanDescriptor.noSpan {
                    partial.append((span, Int(descriptors[Int(span)].inUse)))
                    span = descriptors[Int(span)].next
                }
                guard partial.count > 1 else { return }
                partial.sort { $0.inUse < $1.inUse }
                let totalFree = partial.reduce(0) { $0 + capacity - $1.inUse }
                var movedObjects = 0
                var removedFree = 0
                for candidate in partial {
                    let objects = movedObjects + candidate.inUse
                    let free = removedFree + capacity - candidate.inUse
                    guard objects <= totalFree - free else { break }
                    movedObjects = objects
                    removedFree = free
                    unlink(candidate.span, state: state)
                    descriptors[Int(candidate.span)].state = .evacuating
                    sources.append(candidate.span)
                }
            }
        }
        return sources
    }

    /// When `handle` (class `c`) sits in an evacuating span, allocates its new home in a span
    /// that already exists and returns it; otherwise `nil`.
    func relocationTarget(for handle: UInt64, inClass c: Int) -> UInt64? {
        let span = Int(truncatingIfNeeded: handle >> 16)
        return classLocks[c].withLock { () -> UInt64? in
            let state = classStates + c
            guard descriptors[span].state == .evacuating else { return nil }
            return takeObject(inClass: c, state: state)
        }
    }

    /// Ends a compaction: drained sources give their index back, the others return to their
    /// class's partial list. Returns the bytes freed.
    func endCompaction(_ sources: [UInt32]) -> Int {
        var freed = 0
        for span in sources {
            let c = Int(descriptors[Int(span)].classIndex)  // stable: the index is still ours
            let drained = classLocks[c].withLock { () -> Bool in
            let state = classStates + c
                let d = descriptors + Int(span)
                if d.pointee.state == .drained {
                    d.pointee.state = .free
                    return true
                }
                d.pointee.state = .partial
                link(span, state: state)
                return false
            }
            if drained {
                freed += Int(descriptors[Int(span)].committedPages) * pageSize
                pushFreeSpan(span)
            }
        }
        return freed
    }

    // MARK: Internals (callers hold the class lock)

    @inline(__always)
    private func takeObject(inClass c: Int, state: UnsafeMutablePointer<ClassState>) -> UInt64? {
        let span = state.pointee.partialHead
        guard span != SpanDescriptor.noSpan else { return nil }
        let d = descriptors + Int(span)
        let object: UInt16
        if d.pointee.freeHead != SpanDescriptor.noObject {
            object = d.pointee.freeHead
            let objectAddress = base + (Int(span) &* spanStride &+ Int(object) &* objectSizes[c])
            d.pointee.freeHead = objectAddress.loadUnaligned(as: UInt16.self)
        } else {
            object = d.pointee.bump
            // Commit the pages this object reaches (it may straddle into the next one).
            let end = (Int(object) + 1) * objectSizes[c]
            let pages = (end + pageSize - 1) / pageSize
            let committed = Int(d.pointee.committedPages)
            if pages > committed {
                guard reserve((pages - committed) * pageSize) else { return nil }
                d.pointee.committedPages = UInt8(pages)
            }
            d.pointee.bump += 1
        }
        d.pointee.inUse += 1
        state.pointee.objects += 1
        if Int(d.pointee.inUse) == objectCounts[c] {
            unlink(span, state: state)
            d.pointee.state = .full
        }
        return UInt64(span) << 16 | UInt64(object)
    }

    @inline(__always)
    private func link(_ span: UInt32, state: UnsafeMutablePointer<ClassState>) {
        let d = descriptors + Int(span)
        d.pointee.previous = SpanDescriptor.noSpan
        d.pointee.next = state.pointee.partialHead
        if state.pointee.partialHead != SpanDescriptor.noSpan { descriptors[Int(state.pointee.partialHead)].previous = span }
        state.pointee.partialHead = span
    }

    @inline(__always)
    private func unlink(_ span: UInt32, state: UnsafeMutablePointer<ClassState>) {
        let d = descriptors + Int(span)
        let previous = d.pointee.previous
        let next = d.pointee.next
        if previous != SpanDescriptor.noSpan { descriptors[Int(previous)].next = next } else { state.pointee.partialHead = next }
        if next != SpanDescriptor.noSpan { descriptors[Int(next)].previous = previous }
        d.pointee.previous = SpanDescriptor.noSpan
        d.pointee.next = SpanDescriptor.noSpan
    }

    /// Adds `bytes` to the pool's use unless that passes the limit; keeps the high-water mark.
    private func reserve(_ bytes: Int) -> Bool {
        var current = used.load(ordering: .relaxed)
        while true {
            let wanted = current + bytes
            if memoryLimit > 0 && wanted > memoryLimit { return false }
            let (exchanged, original) = used.compareExchange(
                expected: current, desired: wanted, ordering: .relaxed)
            if exchanged {
                var high = usedMax.load(ordering: .relaxed)
                while high < wanted {
                    let (done, seen) = usedMax.compareExchange(expected: high, desired: wanted, ordering: .relaxed)
                    if done { break }
                    high = seen
                }
                return true
            }
            current = original
        }
    }

    private func popFreeSpan() -> UInt32? {
        spanStackLock.withLock { () -> UInt32? in
            let stack = spanStack
            if stack.pointee.count > 0 {
                stack.pointee.count -= 1
                return freeSpans[stack.pointee.count]
            }
            guard stack.pointee.neverUsed < maximumSpans else { return nil }
            stack.pointee.neverUsed += 1
            return UInt32(stack.pointee.neverUsed - 1)
        }
    }

    private func pushFreeSpan(_ span: UInt32) {
        spanStackLock.withLock { () -> Void in
            let stack = spanStack
            freeSpans[stack.pointee.count] = span
            stack.pointee.count += 1
        }
    }

    // MARK: Inspection

    /// Objects in use over all classes.
    var objectCount: Int {
        (0..<classes.count).reduce(0) { sum, c in sum + classLocks[c].withLock { classStates[c].objects } }
    }

    /// Live spans over all classes.
    var spanCount: Int {
        (0..<classes.count).reduce(0) { sum, c in sum + classLocks[c].withLock { classStates[c].spans } }
    }

    /// The bytes the live spans would hold if each were allocated whole, as the kernel's zsmalloc
    /// allocates every page of a zspage at once: what the kernel's zram would report as
    /// mem_used_total for the same objects (this pool commits a span's pages only as objects
    /// reach them, so ``memUsed`` is lower).
    var wholeSpanBytes: Int {
        (0..<classes.count).reduce(0) { sum, c in sum + classLocks[c].withLock { classStates[c].spans } * spanBytes[c] }
    }

    #if DEBUG
    /// Verifies every invariant in the type's documentation; call only while no other thread
    /// uses the pool. Traps with a description of the first broken one.
    func checkInvariants() {
        var liveBytes = 0
        var seenSpans = [Bool](repeating: false, count: maximumSpans)
        let stack = spanStackLock.withLock { spanStack }
        for i in 0..<stack.pointee.count {
            let span = Int(freeSpans[i])
            precondition(span < stack.pointee.neverUsed, "free-span stack holds unused index \(span)")
            precondition(!seenSpans[span], "span \(span) twice on the free-span stack")
            seenSpans[span] = true
            precondition(descriptors[span].state == .free, "span \(span) on the stack is \(descriptors[span].state)")
        }
        for c in 0..<classes.count {
            let capacity = objectCounts[c]
            let state = classLocks[c].withLock { classStates + c }
            var onList = 0
            var span = state.pointee.partialHead
            var previous = SpanDescriptor.noSpan
            while span != SpanDescriptor.noSpan {
                let d = descriptors[Int(span)]
                precondition(d.state == .partial && Int(d.classIndex) == c, "span \(span) on class \(c)'s partial list is \(d.state) of class \(d.classIndex)")
                precondition(d.previous == previous, "span \(span): broken back link")
                precondition(d.inUse > 0 && Int(d.inUse) < capacity, "partial span \(span) has \(d.inUse)/\(capacity) objects")
                onList += 1
                previous = span
                span = d.next
            }
            var spans = 0
            var objects = 0
            for s in 0..<stack.pointee.neverUsed where Int(descriptors[s].classIndex) == c {
                let d = descriptors[s]
                guard d.state == .partial || d.state == .full || d.state == .evacuating else { continue }
                spans += 1
                objects += Int(d.inUse)
                liveBytes += Int(d.committedPages) * pageSize
                let reached = (Int(d.bump) * objectSizes[c] + pageSize - 1) / pageSize
                precondition(Int(d.committedPages) == max(1, reached), "span \(s): \(d.committedPages) pages committed, objects reach \(reached)")
                if d.state == .full { precondition(Int(d.inUse) == capacity, "full span \(s) has \(d.inUse)/\(capacity)") }
                var freeCount = 0
                var object = d.freeHead
                var seen = Set<UInt16>()
                while object != SpanDescriptor.noObject {
                    precondition(object < d.bump, "span \(s): free object \(object) at or past bump \(d.bump)")
                    precondition(seen.insert(object).inserted, "span \(s): object \(object) twice on the free list")
                    freeCount += 1
                    let handle = UInt64(s) << 16 | UInt64(object)
                    object = address(of: handle, inClass: c).loadUnaligned(as: UInt16.self)
                }
                precondition(Int(d.inUse) + freeCount + capacity - Int(d.bump) == capacity, "span \(s): \(d.inUse) used + \(freeCount) free + \(capacity - Int(d.bump)) fresh != \(capacity)")
            }
            let partialCount = (0..<stack.pointee.neverUsed).filter { Int(descriptors[$0].classIndex) == c && descriptors[$0].state == .partial }.count
            precondition(partialCount == onList, "class \(c): \(partialCount) partial spans, \(onList) on its list")
            precondition(spans == state.pointee.spans, "class \(c): \(spans) live spans, counter says \(state.pointee.spans)")
            precondition(objects == state.pointee.objects, "class \(c): \(objects) objects, counter says \(state.pointee.objects)")
        }
        precondition(liveBytes == memUsed, "live spans hold \(liveBytes) bytes, mem_used says \(memUsed)")
    }
    #endif
}
