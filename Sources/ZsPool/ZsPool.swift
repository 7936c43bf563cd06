import Synchronization
import SystemSupport

/// A size-class allocator for compressed pages, in the spirit of the kernel's zsmalloc: the
/// pool under both ZRAM's `ZramDevice` and ZSwap's `FrontswapCache`.
///
/// ```swift
/// let pool = try ZsPool(pageSize: 4096, holding: 1024)
/// let c = pool.classes.classIndex(forSize: compressed.count)
/// guard let handle = pool.allocate(inClass: c) else { /* at the memory limit */ }
/// pool.write(compressed, to: handle, inClass: c)
/// let bytes = pool.bytes(of: handle, inClass: c, count: compressed.count)
/// pool.free(handle, inClass: c)
/// ```
///
/// **Objects and handles.** An object is a run of bytes of one size class
/// (``SizeClassTable``: 32 bytes to a page in 16-byte steps on 4 KiB pages), named by a
/// ``ZsHandle``, an integer. An object has no header: its owner keeps its size (in a slot
/// table) and passes the class to every call, and compaction finds owners by asking them
/// (``compact(_:)``). Whoever holds a handle owns the object's bytes: the pool never reads or
/// writes them except to keep its free list in freed objects and to move live ones when the
/// owner asks it to during a compaction.
///
/// **Memory and ownership.** The pool owns one reserved range of address space
/// (`maximumSpans x 8 pages`, MAP_NORESERVE, no transparent huge pages: an
/// `AnonymousMapping`) that costs nothing until touched. Span `s` lives at
/// `base + s * spanStride`; a class's span uses the first `pagesPerSpan` pages of its stride.
/// Unlike zsmalloc, which allocates a zspage's pages all at once, a span commits a page only
/// when an object first reaches it (objects are handed out in address order before freed ones
/// are reused), so a class's last, partly filled span holds no untouched pages. When a span
/// empties its pages go back to the system at once (MADV_DONTNEED), as zsmalloc frees an empty
/// zspage. ``memUsedTotal`` counts every committed page of every live span, used or not: the
/// kernel's `mem_used_total`. The descriptor array, the class states and the free-span stack
/// are allocated once in `init` and freed in `deinit`; allocation and freeing never allocate.
///
/// **Invariants** (checked by ``checkInvariants()``): a class's partial list holds exactly its
/// spans in state `.partial`, each with `0 < inUse < objectsPerSpan`; full spans have
/// `inUse == objectsPerSpan`; per span `inUse + freeListLength + (objectsPerSpan - bump) ==
/// objectsPerSpan`; a span's committed pages are exactly those its first `bump` objects reach;
/// the class's object and span counts match its descriptors; ``memUsedTotal`` is the sum of
/// live spans' committed pages. Descriptors of a class are read and written only under that
/// class's lock; the free-span stack only under its own lock.
///
/// **Thread safety.** `@unchecked Sendable`: all shared mutable state is guarded as above
/// (each lock a `SpinLock`), the memory figures are atomics, one compaction runs at a time.
/// Object bytes are ordered by their owner (a slot lock), not by the pool.
public final class ZsPool: @unchecked Sendable {
    /// Class-wide state, guarded by the class's spin lock.
    struct ClassState {
        var partialHead: UInt32 = SpanDescriptor.noSpan
        var spans = 0
        var objects = 0
    }

    /// The free-span stack's fill and how many span indices were ever handed out.
    struct SpanStack {
        var count = 0
        var neverUsed = 0
    }

    /// The size classes, derived from the page size as zsmalloc derives them.
    public let classes: SizeClassTable
    /// The page size the classes are derived for: the largest object.
    public let pageSize: Int
    /// The most spans live at once (each span index is reserved address space).
    public let maximumSpans: Int
    /// The most bytes the pool may commit (`mem_limit`), 0 for no limit.
    public let memoryLimit: Int
    /// Bytes of address space between two spans: eight pages.
    @usableFromInline let spanStride: Int
    /// The first byte of the reserved range (owned by `mapping`).
    @usableFromInline let base: UnsafeMutableRawPointer
    /// Each class's object size, a flat copy of `classes.sizes` for the address computation.
    @usableFromInline let objectSizes: UnsafeMutablePointer<Int>
    private let mapping: AnonymousMapping
    private let descriptors: UnsafeMutablePointer<SpanDescriptor>
    private let classLocks: UnsafeMutablePointer<SpinLock>
    private let classStates: UnsafeMutablePointer<ClassState>
    private let freeSpans: UnsafeMutablePointer<UInt32>
    private let spanStackLock = SpinLock()
    private let spanStack: UnsafeMutablePointer<SpanStack>
    /// Byte size of each class's span and each class's objects per span, as flat arrays.
    private let spanBytes: UnsafeMutablePointer<Int>
    private let objectCounts: UnsafeMutablePointer<Int>
    private let used = Atomic<Int>(0)
    private let usedMax = Atomic<Int>(0)
    private let compacted = Atomic<Int>(0)
    /// Held for a whole compaction: one at a time.
    private let compactionLock = SpinLock()

    /// Makes a pool for at most `maximumSpans` live spans over `pageSize`-byte pages.
    ///
    /// - Parameters:
    ///   - pageSize: a power of two from 4096 to 65536.
    ///   - maximumSpans: 1 to 2^32 - 2; each costs eight pages of address space (no memory)
    ///     and 16 bytes of descriptor. ``init(pageSize:holding:memoryLimit:)`` sizes it from
    ///     the number of objects instead.
    ///   - memoryLimit: the most bytes the pool commits (`mem_limit`), 0 for no limit.
    /// - Throws: ``ZsPoolError/invalidConfiguration(_:)`` for a bad page size, span count or
    ///   limit; ``ZsPoolError/outOfAddressSpace(bytes:)`` when the range cannot be reserved.
    public convenience init(pageSize: Int, maximumSpans: Int, memoryLimit: Int = 0) throws(ZsPoolError) {
        try Self.validate(pageSize: pageSize, memoryLimit: memoryLimit)
        try self.init(classes: SizeClassTable(pageSize: pageSize), maximumSpans: maximumSpans, memoryLimit: memoryLimit)
    }

    /// Makes a pool that can hold `maximumObjects` objects at once, whatever their classes:
    /// every live span holds at least one object, and a few spans more cover the partly
    /// filled span of each class and a compaction's drained sources.
    ///
    /// - Throws: as ``init(pageSize:maximumSpans:memoryLimit:)``.
    public convenience init(pageSize: Int, holding maximumObjects: Int, memoryLimit: Int = 0) throws(ZsPoolError) {
        try Self.validate(pageSize: pageSize, memoryLimit: memoryLimit)
        guard maximumObjects >= 0 else {
            throw .invalidConfiguration("a pool for \(maximumObjects) objects: give 0 or more")
        }
        let classes = SizeClassTable(pageSize: pageSize)
        try self.init(classes: classes, maximumSpans: maximumObjects + classes.count + 64, memoryLimit: memoryLimit)
    }

    private static func validate(pageSize: Int, memoryLimit: Int) throws(ZsPoolError) {
        guard pageSize >= 4096 && pageSize <= 65536 && pageSize & (pageSize - 1) == 0 else {
            throw .invalidConfiguration("page size \(pageSize) is not a power of two from 4096 to 65536: use 4096")
        }
        guard memoryLimit >= 0 else {
            throw .invalidConfiguration("memory limit \(memoryLimit) is negative: use 0 for no limit")
        }
    }

    private init(classes: SizeClassTable, maximumSpans: Int, memoryLimit: Int) throws(ZsPoolError) {
        guard maximumSpans > 0 && maximumSpans < Int(SpanDescriptor.noSpan) else {
            throw .invalidConfiguration("\(maximumSpans) spans is out of range: give 1 to \(SpanDescriptor.noSpan - 1)")
        }
        let pageSize = classes.pageSize
        self.classes = classes
        self.pageSize = pageSize
        spanStride = SizeClassTable.maximumPagesPerSpan * pageSize
        self.maximumSpans = maximumSpans
        self.memoryLimit = memoryLimit
        let reservedBytes = maximumSpans * spanStride
        do { mapping = try AnonymousMapping(size: reservedBytes, reserveOnly: true) } catch {
            throw .outOfAddressSpace(bytes: reservedBytes)
        }
        base = mapping.base
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
        // `mapping` unmaps the reserved range when it goes, after this.
    }

    // MARK: Figures

    /// Bytes of every live span's committed pages: the kernel's `mem_used_total`.
    public var memUsedTotal: Int { used.load(ordering: .relaxed) }
    /// The high-water mark of ``memUsedTotal`` since creation or ``resetMemUsedMax()``.
    public var memUsedMax: Int { usedMax.load(ordering: .relaxed) }
    /// Sets the high-water mark to the current use, as writing to zram's mem_used_max does.
    public func resetMemUsedMax() { usedMax.store(used.load(ordering: .relaxed), ordering: .relaxed) }
    /// System pages (4 KiB on x86-64) that compactions gave back: zsmalloc's `pages_compacted`.
    public var pagesCompacted: Int { compacted.load(ordering: .relaxed) }
    /// Starts the figures over as a new pool would (a device reset): ``pagesCompacted`` to 0,
    /// ``memUsedMax`` to the current use.
    public func resetStatistics() {
        compacted.store(0, ordering: .relaxed)
        resetMemUsedMax()
    }
    /// Bytes of bookkeeping outside the pool (descriptors, free-span stack), reported on their
    /// own, not in ``memUsedTotal``.
    public var metadataBytes: Int {
        maximumSpans * (MemoryLayout<SpanDescriptor>.stride + MemoryLayout<UInt32>.stride)
    }

    /// The reserved address range, for residency checks (`mincore`) in tests and reports.
    public var reservation: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: mapping.base, count: mapping.size) }

    /// The object size of class `c`.
    @inlinable @inline(__always)
    public func objectSize(ofClass c: Int) -> Int { objectSizes[c] }

    /// Bytes a span of class `c` holds when all its pages are committed.
    @inline(__always)
    public func spanSize(ofClass c: Int) -> Int { spanBytes[c] }

    /// Objects in use over all classes.
    public var objectCount: Int {
        (0..<classes.count).reduce(0) { sum, c in sum + classLocks[c].withLock { classStates[c].objects } }
    }

    /// Live spans over all classes.
    public var spanCount: Int {
        (0..<classes.count).reduce(0) { sum, c in sum + classLocks[c].withLock { classStates[c].spans } }
    }

    /// The bytes the live spans would hold if each were allocated whole, as the kernel's zsmalloc
    /// allocates every page of a zspage at once: what the kernel would report as
    /// `mem_used_total` for the same objects (this pool commits a span's pages only as objects
    /// reach them, so ``memUsedTotal`` is lower).
    public var zsmallocEquivalentBytes: Int {
        (0..<classes.count).reduce(0) { sum, c in sum + classLocks[c].withLock { classStates[c].spans } * spanBytes[c] }
    }

    /// Every figure at once (each read on its own, as sysfs reads them).
    public var statistics: ZsPoolStatistics {
        ZsPoolStatistics(
            memUsedTotal: memUsedTotal, memUsedMax: memUsedMax, memLimit: memoryLimit, pagesCompacted: pagesCompacted,
            objects: objectCount, spans: spanCount, zsmallocEquivalentBytes: zsmallocEquivalentBytes,
            metadataBytes: metadataBytes)
    }

    // MARK: Objects

    /// The address of `handle`'s object in class `c` (zsmalloc's `zs_map_object`, with nothing
    /// to unmap). Valid while the caller owns the handle; the object's bytes are the caller's.
    @inlinable @inline(__always)
    public func address(of handle: ZsHandle, inClass c: Int) -> UnsafeMutableRawPointer {
        base + (handle.span &* spanStride &+ handle.object &* objectSizes[c])
    }

    /// The first `count` bytes of `handle`'s object (`count` at most the class's object size).
    @inlinable @inline(__always)
    public func bytes(of handle: ZsHandle, inClass c: Int, count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: address(of: handle, inClass: c), count: count)
    }

    /// Copies `bytes` (at most the class's object size) into `handle`'s object (`zs_obj_write`).
    @inlinable @inline(__always)
    public func write(_ bytes: UnsafeRawBufferPointer, to handle: ZsHandle, inClass c: Int) {
        guard let source = bytes.baseAddress else { return }
        address(of: handle, inClass: c).copyMemory(from: source, byteCount: bytes.count)
    }

    /// Allocates an object in class `c` (`zs_malloc`). Returns `nil` when a new span would pass
    /// the memory limit or no span index is left (or, with `mayGrow` false, when no existing
    /// span has room). Never allocates memory for bookkeeping.
    public func allocate(inClass c: Int, mayGrow: Bool = true) -> ZsHandle? {
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
        return classLocks[c].withLock { () -> ZsHandle? in
            let state = classStates + c
            descriptors[Int(span)] = SpanDescriptor(classIndex: UInt16(c), state: .partial, committedPages: 1)
            link(span, state: state)
            state.pointee.spans += 1
            return takeObject(inClass: c, state: state)
        }
    }

    /// Frees `handle` of class `c` (`zs_free`); a span that empties goes back to the system at
    /// once. The handle must be live: freeing it twice traps.
    public func free(_ handle: ZsHandle, inClass c: Int) {
        let span = UInt32(truncatingIfNeeded: handle.span)
        let object = UInt16(truncatingIfNeeded: handle.object)
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
            mapping.discard(offset: Int(span) * spanStride, length: bytes)
            used.subtract(bytes, ordering: .relaxed)
            if release == 1 { pushFreeSpan(span) }
        }
    }

    // MARK: Compaction

    /// Moves objects out of sparse spans into fuller ones of the same class and gives the
    /// emptied spans' pages back to the system (`zs_compact`). Counts them in
    /// ``pagesCompacted`` and returns them (system pages, 4 KiB on x86-64).
    ///
    /// The pool picks, in every class, the sparsest spans whose objects fit into the class's
    /// other partial spans, and marks them evacuating (no new object lands there). Since objects
    /// have no header, only their owners know where the handles are: `moveObjects` visits every
    /// object it owns and offers it to ``ZsCompaction/relocate(_:inClass:byteCount:)``, which
    /// moves the objects in evacuating spans. The owner must hold whatever orders the object's
    /// bytes (its slot lock) from the offer until it has stored the new handle, then free the
    /// old one. An object not offered keeps its span alive: nothing is lost, less is freed.
    /// Runs alongside allocations and frees; one compaction at a time (a second caller waits).
    @discardableResult
    public func compact(_ moveObjects: (borrowing ZsCompaction) -> Void) -> Int {
        compactionLock.withLock { () -> Int in
            let sources = beginCompaction()
            guard !sources.isEmpty else { return 0 }
            moveObjects(ZsCompaction(pool: self))
            let pages = endCompaction(sources) / AnonymousMapping.pageSize
            compacted.add(pages, ordering: .relaxed)
            return pages
        }
    }

    /// Chooses, in every class, the sparsest spans whose objects fit into the other partial
    /// spans, and marks them evacuating. Returns them. (Allocates the list: once per compaction.)
    private func beginCompaction() -> [UInt32] {
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
    func relocationTarget(for handle: ZsHandle, inClass c: Int) -> ZsHandle? {
        let span = handle.span
        return classLocks[c].withLock { () -> ZsHandle? in
            guard descriptors[span].state == .evacuating else { return nil }
            return takeObject(inClass: c, state: classStates + c)
        }
    }

    /// Ends a compaction: drained sources give their index back, the others return to their
    /// class's partial list. Returns the bytes freed.
    private func endCompaction(_ sources: [UInt32]) -> Int {
        var freed = 0
        for span in sources {
            let c = Int(descriptors[Int(span)].classIndex)  // stable: the index is still ours
            let drained = classLocks[c].withLock { () -> Bool in
                let d = descriptors + Int(span)
                if d.pointee.state == .drained {
                    d.pointee.state = .free
                    return true
                }
                d.pointee.state = .partial
                link(span, state: classStates + c)
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
    private func takeObject(inClass c: Int, state: UnsafeMutablePointer<ClassState>) -> ZsHandle? {
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
        return ZsHandle(span: span, object: object)
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

    #if DEBUG
    /// Verifies every invariant in the type's documentation; call only while no other thread
    /// uses the pool. Traps with a description of the first broken one. Debug builds only.
    ///
    /// - Returns: the objects in use, counted span by span and checked against each class's
    ///   counter (what ``objectCount`` reads, without taking every class lock again).
    @discardableResult
    public func checkInvariants() -> Int {
        var liveBytes = 0
        let stack = spanStackLock.withLock { spanStack }
        // Only spans below `neverUsed` have been handed out (sized by it, not by maximumSpans:
        // the fuzz targets check after every operation).
        var seenSpans = [Bool](repeating: false, count: stack.pointee.neverUsed)
        for i in 0..<stack.pointee.count {
            let span = Int(freeSpans[i])
            precondition(span < stack.pointee.neverUsed, "free-span stack holds unused index \(span)")
            precondition(!seenSpans[span], "span \(span) twice on the free-span stack")
            seenSpans[span] = true
            precondition(descriptors[span].state == .free, "span \(span) on the stack is \(descriptors[span].state)")
        }
        // One pass over the spans (not one per class: the fuzz targets check after every
        // operation, and classes times spans was a fifth of FuzzZram's time), then one per class.
        // Per class, counted span by span (one array, one allocation).
        var perClass = [(spans: Int, objects: Int, partial: Int)](repeating: (0, 0, 0), count: classes.count)
        for s in 0..<stack.pointee.neverUsed {
            let d = descriptors[s]
            guard d.state == .partial || d.state == .full || d.state == .evacuating else { continue }
            let c = Int(d.classIndex)
            precondition(c < classes.count, "span \(s) is of class \(c), past the last")
            let capacity = objectCounts[c]
            perClass[c].spans += 1
            perClass[c].objects += Int(d.inUse)
            if d.state == .partial { perClass[c].partial += 1 }
            liveBytes += Int(d.committedPages) * pageSize
            let reached = (Int(d.bump) * objectSizes[c] + pageSize - 1) / pageSize
            precondition(Int(d.committedPages) == max(1, reached), "span \(s): \(d.committedPages) pages committed, objects reach \(reached)")
            if d.state == .full { precondition(Int(d.inUse) == capacity, "full span \(s) has \(d.inUse)/\(capacity)") }
            var freeCount = 0
            var object = d.freeHead
            while object != SpanDescriptor.noObject {
                precondition(object < d.bump, "span \(s): free object \(object) at or past bump \(d.bump)")
                // Each free object holds the next one's index, so an object twice on the list is
                // a cycle, and a list longer than the objects below bump has one.
                precondition(freeCount < Int(d.bump), "span \(s): object \(object) twice on the free list (a cycle)")
                freeCount += 1
                let handle = ZsHandle(span: UInt32(s), object: object)
                object = address(of: handle, inClass: c).loadUnaligned(as: UInt16.self)
            }
            precondition(Int(d.inUse) + freeCount + capacity - Int(d.bump) == capacity, "span \(s): \(d.inUse) used + \(freeCount) free + \(capacity - Int(d.bump)) fresh != \(capacity)")
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
            let (spans, objects, partial) = perClass[c]
            precondition(partial == onList, "class \(c): \(partial) partial spans, \(onList) on its list")
            precondition(spans == state.pointee.spans, "class \(c): \(spans) live spans, counter says \(state.pointee.spans)")
            precondition(objects == state.pointee.objects, "class \(c): \(objects) objects, counter says \(state.pointee.objects)")
        }
        precondition(liveBytes == memUsedTotal, "live spans hold \(liveBytes) bytes, mem_used says \(memUsedTotal)")
        precondition(memUsedTotal <= memUsedMax, "mem_used \(memUsedTotal) above its high-water mark \(memUsedMax)")
        precondition(memoryLimit == 0 || memUsedTotal <= memoryLimit, "mem_used \(memUsedTotal) above the limit \(memoryLimit)")
        return perClass.reduce(0) { $0 + $1.objects }
    }
    #endif
}
