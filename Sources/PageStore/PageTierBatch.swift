/// Objects on their way to a ``PageTier``, and what the tier did with each: the one buffer a
/// writeback reuses for every batch it sends.
///
/// ```swift
/// var batch = PageTierBatch(capacity: 64, maxObjectSize: 4096)
/// try batch.append(compressedBytes)            // copied into the batch
/// try tier.write(&batch)
/// for i in 0..<batch.count {
///     if let handle = batch.handle(at: i) { /* keep the handle, drop the local copy */ }
/// }
/// batch.removeAll()
/// ```
///
/// **Memory and ownership.** The batch owns two allocations made once in `init` and freed in
/// `deinit`: `capacity` entries and an arena of `capacity` object slots of ``maxObjectSize``
/// bytes (rounded up to 64; page-aligned, so a slot of a page-sized batch is one aligned page). ``append(_:)`` copies the object into its slot, so the caller's
/// memory may change (a pool object freed, a slot rewritten) as soon as it returns: a tier never
/// sees memory the batch does not own. Buffers ``object(at:)`` returns live until the next
/// ``removeAll()`` or the end of the batch.
///
/// **Invariants.** `0 <= count <= capacity`; entry `i < count` holds a length from 0 to
/// ``maxObjectSize``; an entry is acknowledged only with a handle. The batch is one owner's
/// value (non-copyable, not shared between threads while a write runs).
public struct PageTierBatch: ~Copyable {
    /// How many objects the batch holds at most.
    public let capacity: Int
    /// The largest object it holds.
    public let maxObjectSize: Int
    /// How many objects it holds now.
    public private(set) var count = 0
    /// Why the last write did not acknowledge some objects, or `nil` when it acknowledged all.
    public var failure: PageTierError?

    struct Entry {
        var length: Int
        var handle: UInt64
        var acknowledged: Bool
        var refusal: Refusal = .notSaid
    }

    /// Why a tier did not acknowledge an object, when it says (``refusal(at:)``): a store
    /// counts a failed write only for an object whose write was made and failed, not for one
    /// the tier had no room for.
    public enum Refusal: Sendable, Equatable {
        /// The tier did not say (the batch's ``failure`` is all there is).
        case notSaid
        /// The tier tried to store the object and the write failed (an I/O error).
        case writeFailed
        /// The tier had no room for it (``PageTierError/full(capacity:)``); nothing was written.
        case noRoom
    }

    let entries: UnsafeMutablePointer<Entry>
    let arena: UnsafeMutableRawPointer
    let stride: Int

    /// An empty batch for `capacity` objects of at most `maxObjectSize` bytes (both at least 1).
    public init(capacity: Int, maxObjectSize: Int) {
        precondition(capacity >= 1 && maxObjectSize >= 1, "a batch holds at least one object of at least one byte")
        self.capacity = capacity
        self.maxObjectSize = maxObjectSize
        stride = (maxObjectSize + 63) & ~63
        entries = .allocate(capacity: capacity)
        entries.initialize(repeating: Entry(length: 0, handle: 0, acknowledged: false), count: capacity)
        arena = .allocate(byteCount: stride * capacity, alignment: 4096)
    }

    deinit {
        entries.deinitialize(count: capacity)
        entries.deallocate()
        arena.deallocate()
    }

    /// Whether the batch holds ``capacity`` objects.
    public var isFull: Bool { count == capacity }

    /// Copies `object` into the batch and returns its index.
    ///
    /// - Throws: ``PageTierError/objectTooLarge(size:limit:)`` or ``PageTierError/batchFull(capacity:)``;
    ///   the batch is unchanged then.
    @discardableResult
    public mutating func append(_ object: UnsafeRawBufferPointer) throws(PageTierError) -> Int {
        guard object.count <= maxObjectSize else { throw .objectTooLarge(size: object.count, limit: maxObjectSize) }
        guard count < capacity else { throw .batchFull(capacity: capacity) }
        let index = count
        if let base = object.baseAddress, object.count > 0 {
            (arena + index * stride).copyMemory(from: base, byteCount: object.count)
        }
        entries[index] = Entry(length: object.count, handle: 0, acknowledged: false)
        count += 1
        return index
    }

    /// Lets `fill` write the next object straight into the batch (a decompression or a copy out
    /// of a pool without a bounce buffer): it gets ``maxObjectSize`` bytes and returns how many
    /// it used. Returns the object's index.
    ///
    /// - Throws: ``PageTierError/batchFull(capacity:)`` before calling `fill`; what `fill`
    ///   throws; ``PageTierError/objectTooLarge(size:limit:)`` when `fill` returns a length
    ///   outside `0...maxObjectSize`. The batch is unchanged after any of them.
    @discardableResult
    public mutating func append<E: Error>(
        filling fill: (UnsafeMutableRawBufferPointer) throws(E) -> Int
    ) throws(AppendFailure<E>) -> Int {
        guard count < capacity else { throw .tier(.batchFull(capacity: capacity)) }
        let index = count
        let slot = UnsafeMutableRawBufferPointer(start: arena + index * stride, count: maxObjectSize)
        let length: Int
        do { length = try fill(slot) } catch { throw .filler(error) }
        guard length >= 0 && length <= maxObjectSize else {
            throw .tier(.objectTooLarge(size: length, limit: maxObjectSize))
        }
        entries[index] = Entry(length: length, handle: 0, acknowledged: false)
        count += 1
        return index
    }

    /// Why ``append(filling:)`` failed: the batch refused, or the filler threw.
    public enum AppendFailure<Filler: Error>: Error {
        /// The batch was full or the length was out of range.
        case tier(PageTierError)
        /// The filler's own error.
        case filler(Filler)
    }

    /// The bytes of object `index`.
    public func object(at index: Int) -> UnsafeRawBufferPointer {
        precondition(index >= 0 && index < count, "object index out of range")
        return UnsafeRawBufferPointer(start: arena + index * stride, count: entries[index].length)
    }

    /// For tiers that store fixed-size blocks: zero-fills the room after object `index` up to
    /// `size` bytes (in the batch's own memory; the object itself is unchanged) and passes the
    /// padded object to `body`. `size` must be at least the object's length; a size past the
    /// object's slot goes through a temporary buffer.
    public mutating func withPaddedObject<R>(at index: Int, to size: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        precondition(index >= 0 && index < count, "object index out of range")
        let length = entries[index].length
        precondition(size >= length, "padding \(length) bytes to \(size)")
        let start = arena + index * stride
        if size <= stride {
            (start + length).initializeMemory(as: UInt8.self, repeating: 0, count: size - length)
            return body(UnsafeRawBufferPointer(start: start, count: size))
        }
        let page = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
        defer { page.deallocate() }
        page.initializeMemory(as: UInt8.self, repeating: 0)
        if length > 0 { page.baseAddress!.copyMemory(from: start, byteCount: length) }
        return body(UnsafeRawBufferPointer(page))
    }

    /// Whether the last write acknowledged object `index`.
    public func isAcknowledged(_ index: Int) -> Bool {
        precondition(index >= 0 && index < count, "object index out of range")
        return entries[index].acknowledged
    }

    /// The handle of object `index` if the last write acknowledged it, else `nil`.
    public func handle(at index: Int) -> PageTierHandle? {
        precondition(index >= 0 && index < count, "object index out of range")
        let entry = entries[index]
        return entry.acknowledged ? PageTierHandle(rawValue: entry.handle) : nil
    }

    /// How many objects the last write acknowledged.
    public var acknowledgedCount: Int {
        var n = 0
        for i in 0..<count where entries[i].acknowledged { n += 1 }
        return n
    }

    /// For tiers: records that object `index` is stored under `handle`.
    public mutating func acknowledge(_ index: Int, as handle: PageTierHandle) {
        precondition(index >= 0 && index < count, "object index out of range")
        entries[index].handle = handle.rawValue
        entries[index].acknowledged = true
    }

    /// For tiers: records that object `index` was not stored (the caller keeps it), and why
    /// when the tier knows; a write starts by refusing every object (reason not said), so this
    /// is only needed to take back an acknowledgement or to give the reason.
    public mutating func refuse(_ index: Int, because reason: Refusal = .notSaid) {
        precondition(index >= 0 && index < count, "object index out of range")
        entries[index].handle = 0
        entries[index].acknowledged = false
        entries[index].refusal = reason
    }

    /// Why the last write did not acknowledge object `index`, or `nil` when it did.
    public func refusal(at index: Int) -> Refusal? {
        precondition(index >= 0 && index < count, "object index out of range")
        let entry = entries[index]
        return entry.acknowledged ? nil : entry.refusal
    }

    /// Why object `index` was refused, a reason the tier did not give taken from the batch's
    /// ``failure`` (an I/O error: the write failed; ``PageTierError/full(capacity:)``: no room),
    /// as a store counts it (a failed write only for a write that was made and failed); nil
    /// when the object was acknowledged.
    public func refusalCountedAs(at index: Int) -> Refusal? {
        switch refusal(at: index) {
        case nil: return nil
        case .notSaid?:
            switch failure {
            case .io?: return .writeFailed
            case .full?: return .noRoom
            default: return .notSaid
            }
        case let reason?: return reason
        }
    }

    /// For tiers, at the start of a write: every object not acknowledged (reason not said), no
    /// failure.
    public mutating func resetResults() {
        for i in 0..<count { entries[i].acknowledged = false; entries[i].handle = 0; entries[i].refusal = .notSaid }
        failure = nil
    }

    /// Empties the batch (its memory is kept for the next one).
    public mutating func removeAll() {
        count = 0
        failure = nil
    }

    /// Checks the invariants above; debug builds only (tests call it).
    public func checkInvariants() {
        #if DEBUG
        precondition(count >= 0 && count <= capacity, "batch count \(count) outside 0...\(capacity)")
        for i in 0..<count {
            let entry = entries[i]
            precondition(entry.length >= 0 && entry.length <= maxObjectSize, "entry \(i) has length \(entry.length)")
            precondition(!entry.acknowledged || entry.handle != 0, "entry \(i) is acknowledged without a handle")
        }
        #endif
    }
}
