import PageStore

/// A fixed number of elements living in a ``SwapRegion``: an array larger than the memory it
/// may use, whose cold pages are compressed into a backend and come back when touched.
///
/// ```swift
/// let zram = try ZramDevice(ZramConfiguration(disksize: 1 << 30))
/// let scores = try SwapArray(repeating: 0.0, count: 50_000_000,   // 400 MB of Doubles
///                            residentLimit: 64 << 20, backend: zram)   // in 64 MiB of RAM
/// scores[42] = 3.5
/// scores.withMutableSpan { span in
///     for i in span.indices { span[i] += Double(i % 7) }
/// }
/// let total = scores.withSpan { span in span.indices.reduce(0.0) { $0 + span[$1] } }
/// print(total, scores.region.statistics.swapOuts)
/// ```
///
/// The count is fixed at creation; every element exists from then on. Subscripts check bounds
/// and trap on a bad index like `Array`'s; ``element(at:)`` and ``setElement(_:at:)`` throw
/// ``SwapError/indexOutOfBounds(index:count:)`` instead. Spans (``withSpan(_:)``,
/// ``withMutableSpan(_:)``) give bounds-checked access at memory speed, for as long as the
/// closure runs.
///
/// Threads: what is synchronised is the paging. Any thread may read and write any element at
/// any time, from any thread, while another thread's access faults a page in or the reclaimer
/// evicts one: each access sees the last value stored before it, as with ordinary memory, and
/// no write is lost to an eviction. What is not synchronised is the elements themselves: they
/// are plain memory, so two threads that access the same element at once, at least one of them
/// writing, race (undefined behaviour, as for any shared memory). Give each thread its own
/// elements, or order the accesses (a lock, a join, an atomic flag) around them. A mutable span
/// is exclusive only within its own thread.
///
/// Memory: the array owns its region (``region``) and the region's mapping; elements live
/// there, `Element.stride` bytes each from the region's first byte (so an element may straddle
/// two pages). Both live until the array and every other reference to the region are gone, or
/// until the region is closed, after which the elements are gone: any access is then a
/// precondition failure (or ``SwapError/closed`` from the throwing accessors).
public final class SwapArray<Element: BitwiseCopyable>: @unchecked Sendable {
    // @unchecked Sendable: the region is Sendable and pages itself; the elements are plain
    // memory whose sharing rules are the ones above, as for any memory several threads use.

    /// The region the elements live in: its statistics, ``SwapRegion/prefault(_:)``, its
    /// configuration.
    public let region: SwapRegion
    /// The number of elements, fixed at creation.
    public let count: Int
    private let elements: UnsafeMutablePointer<Element>

    /// `count` copies of `value` in a new region of the pages they need, at most
    /// `residentLimit` bytes of which stay in memory, swapping to `backend`.
    ///
    /// Throws ``SwapError/invalidConfiguration(_:)`` for a count below 1 or too large, and every
    /// error of ``SwapRegion/init(_:backend:)``.
    public convenience init(
        repeating value: Element, count: Int, residentLimit: Int, policy: SlotPolicy = .default,
        backend: any SwapBackend
    ) throws(SwapError) {
        try self.init(
            repeating: value, count: count,
            configuration: SwapRegionConfiguration(size: 0, residentLimit: residentLimit, policy: policy), backend: backend)
    }

    /// `count` copies of `value` in a new region made with `configuration`, whose size is
    /// replaced by the whole pages the elements need.
    public init(
        repeating value: Element, count: Int, configuration: SwapRegionConfiguration, backend: any SwapBackend
    ) throws(SwapError) {
        let stride = MemoryLayout<Element>.stride
        guard count > 0 else { throw .invalidConfiguration("a swap array of \(count) elements: give at least 1") }
        guard MemoryLayout<Element>.alignment <= configuration.pageSize else {
            throw .invalidConfiguration("\(Element.self) needs \(MemoryLayout<Element>.alignment)-byte alignment, more than a page")
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: stride)
        guard !overflow, bytes <= Int.max - configuration.pageSize else {
            throw .invalidConfiguration("\(count) elements of \(stride) bytes do not fit in memory: give fewer")
        }
        var configuration = configuration
        configuration.size = Swift.max(1, (bytes + configuration.pageSize - 1) / configuration.pageSize) * configuration.pageSize
        region = try SwapRegion(configuration, backend: backend)
        self.count = count
        elements = region.baseAddress.bindMemory(to: Element.self, capacity: count)
        // A new region reads as zeros: only a value with a nonzero byte needs storing.
        let isZero = withUnsafeBytes(of: value) { $0.allSatisfy { $0 == 0 } }
        if !isZero { elements.initialize(repeating: value, count: count) }
    }

    /// The element at `index`, which must be in `0..<count` (a precondition, like `Array`'s).
    public subscript(index: Int) -> Element {
        get {
            checkAccess(index)
            return elements[index]
        }
        set {
            checkAccess(index)
            elements[index] = newValue
        }
    }

    /// The element at `index`; throws ``SwapError/indexOutOfBounds(index:count:)`` for an index
    /// outside `0..<count` and ``SwapError/closed`` after the region was closed.
    public func element(at index: Int) throws(SwapError) -> Element {
        try validate(index)
        return elements[index]
    }

    /// Stores `value` at `index`; throws like ``element(at:)``, and stores nothing then.
    public func setElement(_ value: Element, at index: Int) throws(SwapError) {
        try validate(index)
        elements[index] = value
    }

    /// Calls `body` with every element, read-only. The region must be open (a precondition).
    public func withSpan<Result, Failure: Error>(
        _ body: (Span<Element>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        precondition(!region.isClosed, "the swap array's region was closed: its elements are gone")
        return try body(UnsafeBufferPointer(start: elements, count: count).span)
    }

    /// Calls `body` with every element, writable. The region must be open (a precondition).
    public func withMutableSpan<Result, Failure: Error>(
        _ body: (inout MutableSpan<Element>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        precondition(!region.isClosed, "the swap array's region was closed: its elements are gone")
        var span = UnsafeMutableBufferPointer(start: elements, count: count).mutableSpan
        return try body(&span)
    }

    /// The check behind ``element(at:)`` and ``setElement(_:at:)``.
    private func validate(_ index: Int) throws(SwapError) {
        guard !region.isClosed else { throw .closed }
        guard index >= 0 && index < count else { throw .indexOutOfBounds(index: index, count: count) }
    }

    /// The check behind the subscript: the same conditions as preconditions.
    @inline(__always)
    private func checkAccess(_ index: Int) {
        precondition(index >= 0 && index < count, "index \(index) is out of bounds: the swap array has \(count) elements")
        precondition(!region.isClosed, "the swap array's region was closed: its elements are gone")
    }
}

extension SwapArray: RandomAccessCollection, MutableCollection {
    /// 0.
    public var startIndex: Int { 0 }
    /// ``count``.
    public var endIndex: Int { count }
}
