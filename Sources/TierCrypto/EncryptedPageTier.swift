import Crypto
import Foundation
import PageStore
import Synchronization
import SystemSupport

/// A `PageTier` that encrypts every object before it reaches another tier (a file, a cluster)
/// and authenticates it when it comes back: pages at rest outside RAM are another process's
/// memory, and this keeps them unreadable and unchangeable there.
///
/// ```swift
/// let file = PageFileTier(file: backingFile, blockCount: 65_536)
/// let tier = try EncryptedPageTier(wrapping: file, capacity: 65_536)   // a random key of its own
/// configuration.backingDevice = ZramBackingDevice(tier: tier)            // or FrontswapCache(tier:)
/// ```
///
/// **Cipher.** AES-256-GCM (swift-crypto). The key is a ``TierKey``: random, in one locked page
/// outside the heap, never in a core dump. Each object written takes a *tier slot* (one of
/// `capacity`, reused after a free; the handle this tier returns is slot + 1) and a *generation*
/// (a 64-bit counter, never repeated under one key, which is also the nonce). The associated data
/// is the slot and the generation. The ciphertext (as long as the object: a raw page still fits
/// a file block) goes to the inner tier; the 16-byte tag, the generation and the inner handle
/// stay in this process's memory (32 bytes per slot). So a read fails authentication, throws
/// `PageTierError.corrupt` and frees nothing, when the stored bytes were changed (tampered), when
/// another slot's block was put in this one's place (moved: the slot in the associated data
/// differs), or when an older block of this same slot was put back (replayed: the generation
/// differs). In a swap region such a read fails the fault: SIGBUS, nothing freed.
///
/// **Threads.** The cipher allocates (swift-crypto's `Data` and key copies), so
/// ``isAsyncSignalSafe`` is false: stores write back through their writeback thread, and a SIGBUS
/// region reads through its I/O threads.
///
/// **Cost.** One AES-GCM pass over the object each way (hardware AES where the CPU has it) plus a
/// few small allocations: see docs/CLUSTER.md for figures.
///
/// **Memory and ownership.** The slot records (`capacity` x 32 bytes) are allocated in `init`
/// and freed in `deinit`; one inner batch is kept between writes. The inner tier belongs to the
/// caller. A record is written by the write that took its slot, before its handle is handed out,
/// and read by reads of that handle, freed by its free: the caller holds a handle until it frees
/// it, so no record is read while it changes (which makes the `@unchecked Sendable` safe).
/// **Invariant** (``checkInvariants()``): a slot is allocated exactly when its record names an
/// inner object.
public final class EncryptedPageTier: PageTier, @unchecked Sendable {
    /// The tier the ciphertext goes to.
    public let inner: any PageTier
    /// How many objects may be stored at once.
    public let capacity: Int
    /// The key.
    public let key: TierKey
    /// The inner tier's object limit: ciphertext is as long as the object.
    public var maxObjectSize: Int { inner.maxObjectSize }
    /// Slots are reused after a free (the inner tier's handles follow its own rule).
    public var handlesAreReused: Bool { true }
    /// The cipher allocates: never from a signal handler.
    public var isAsyncSignalSafe: Bool { false }

    /// What this process keeps about one stored object.
    struct Record {
        var innerHandle: UInt64 = 0
        var generation: UInt64 = 0
        var tag: (UInt64, UInt64) = (0, 0)
    }

    private let records: UnsafeMutablePointer<Record>
    private let slots: BlockAllocator
    /// Taken around every allocator call (ThreadSanitizer does not see `Mutex` on Linux).
    private let slotsLock = SpinLock()
    private let generation: Atomic<UInt64>
    private let cipher: PageCipher
    /// Held for a whole write: writes are serialized (a store has one writeback thread), and
    /// the one batch of ciphertexts below is reused by each.
    private let writeLock = Mutex(())
    /// The ciphertexts of the write in progress; only touched under `writeLock`.
    private var sealedBatch: PageTierBatch
    private let acknowledged = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)
    private let reads = Atomic<Int>(0)
    private let failedReads = Atomic<Int>(0)
    private let authenticationFailures = Atomic<Int>(0)
    private let frees = Atomic<Int>(0)

    /// An encrypting tier in front of `inner` for at most `capacity` stored objects (a store's
    /// slot count, plus one writeback batch), with `key` (default: a new random one).
    ///
    /// - Throws: ``TierCryptoError/invalidConfiguration(_:)`` for a capacity below 1,
    ///   ``TierCryptoError/keyUnavailable(_:)`` when a key cannot be made.
    public init(wrapping inner: any PageTier, capacity: Int, key: TierKey? = nil) throws(TierCryptoError) {
        guard capacity >= 1 else { throw .invalidConfiguration("an encrypting tier holds at least 1 object, not \(capacity)") }
        self.inner = inner
        self.capacity = capacity
        let chosen: TierKey
        if let key { chosen = key } else { chosen = try TierKey.random() }
        guard chosen.claim() else {
            throw .invalidConfiguration("this key already encrypts another tier: give each tier a key of its own (TierKey.random()), or two objects could share a nonce")
        }
        self.key = chosen
        cipher = PageCipher(key: chosen)
        // A random start, so that even a key reused by mistake across runs is unlikely to meet
        // an old generation; 2^62 leaves room to count without wrapping.
        var generator = SystemRandomNumberGenerator()
        generation = Atomic<UInt64>(generator.next() >> 2 | 1)
        records = .allocate(capacity: capacity)
        records.initialize(repeating: Record(), count: capacity)
        slots = BlockAllocator(capacity: capacity)
        sealedBatch = PageTierBatch(capacity: 1, maxObjectSize: inner.maxObjectSize)
    }

    deinit {
        records.deinitialize(count: capacity)
        records.deallocate()
    }

    // MARK: PageTier

    /// Encrypts each object under a fresh slot and generation and writes the ciphertexts to the
    /// inner tier as one batch; an object is acknowledged when the inner tier acknowledged its
    /// ciphertext. Objects past the capacity are refused (`PageTierError.full(capacity:)`).
    ///
    /// - Throws: `PageTierError.objectTooLarge(size:limit:)`, or what the inner tier throws.
    public func write(_ batch: inout PageTierBatch) throws(PageTierError) {
        guard batch.maxObjectSize <= maxObjectSize else {
            throw .objectTooLarge(size: batch.maxObjectSize, limit: maxObjectSize)
        }
        batch.resetResults()
        guard batch.count > 0 else { return }
        try writeLock.withLock { (_: inout ()) throws(PageTierError) in
            if sealedBatch.capacity < batch.count {
                sealedBatch = PageTierBatch(capacity: batch.capacity, maxObjectSize: maxObjectSize)
            }
            try writeLocked(&batch, sealed: &sealedBatch)
        }
    }

    private func writeLocked(_ batch: inout PageTierBatch, sealed: inout PageTierBatch) throws(PageTierError) {
        sealed.removeAll()
        let mapping = UnsafeMutablePointer<Int>.allocate(capacity: batch.count)  // object -> slot, or -1
        defer { mapping.deallocate() }
        let mappingIndex = UnsafeMutablePointer<Int>.allocate(capacity: batch.count)  // object -> sealed index
        defer { mappingIndex.deallocate() }
        var full = false
        for i in 0..<batch.count {
            mapping[i] = -1
            guard let slot = slotsLock.withLock({ () -> Int? in try? slots.allocate() }) else {
                full = true
                continue
            }
            let generation = self.generation.add(1, ordering: .relaxed).oldValue
            let object = batch.object(at: i)
            var tag: PageCipher.Tag = (0, 0)
            let index: Int
            do {
                // Sealed straight into the inner batch's memory: no copy of the ciphertext.
                index = try sealed.append { (target: UnsafeMutableRawBufferPointer) throws(TierCryptoError) -> Int in
                    tag = try cipher.seal(object, slot: slot, generation: generation, into: target)
                    return object.count
                }
            } catch {
                slotsLock.withLock { _ = slots.free(slot) }
                continue
            }
            records[slot] = Record(innerHandle: 0, generation: generation, tag: tag)
            mapping[i] = slot
            mappingIndex[i] = index
        }
        do {
            try inner.write(&sealed)
        } catch {
            for i in 0..<batch.count where mapping[i] >= 0 { release(slot: mapping[i]) }
            sealed.removeAll()
            throw error
        }
        var refusals = 0
        for i in 0..<batch.count {
            let slot = mapping[i]
            guard slot >= 0, let handle = sealed.handle(at: mappingIndex[i]) else {
                if slot >= 0 { release(slot: slot) }
                refusals += 1
                continue
            }
            records[slot].innerHandle = handle.rawValue
            batch.acknowledge(i, as: PageTierHandle(rawValue: UInt64(slot) + 1))
        }
        if refusals > 0 {
            batch.failure = sealed.failure ?? (full ? .full(capacity: capacity) : .notAcknowledged("encryption failed"))
        }
        acknowledged.add(batch.count - refusals, ordering: .relaxed)
        refused.add(refusals, ordering: .relaxed)
        sealed.removeAll()
    }

    /// Forgets `slot`'s record and gives the slot back (its object was refused).
    private func release(slot: Int) {
        records[slot] = Record()
        slotsLock.withLock { _ = slots.free(slot) }
    }

    /// Reads the ciphertext of `handle` from the inner tier into `buffer`, authenticates it
    /// against the slot, generation and tag kept here, and leaves the object there.
    ///
    /// - Throws: `PageTierError.missing(handle:)` for a handle that names nothing,
    ///   `PageTierError.corrupt(handle:reason:)` when authentication fails (changed, moved or
    ///   replayed bytes), or what the inner tier throws. Nothing is freed.
    public func read(_ handle: PageTierHandle, into buffer: UnsafeMutableRawBufferPointer) throws(PageTierError) -> Int {
        do {
            let length = try readObject(handle, into: buffer)
            reads.add(1, ordering: .relaxed)
            return length
        } catch {
            failedReads.add(1, ordering: .relaxed)
            throw error
        }
    }

    private func readObject(_ handle: PageTierHandle, into buffer: UnsafeMutableRawBufferPointer) throws(PageTierError) -> Int {
        let slot = Int(truncatingIfNeeded: handle.rawValue &- 1)
        guard handle.rawValue > 0, slot < capacity, slotsLock.withLock({ slots.isAllocated(slot) }), records[slot].innerHandle != 0
        else { throw .missing(handle: handle.rawValue) }
        let record = records[slot]
        let length = try inner.read(PageTierHandle(rawValue: record.innerHandle), into: buffer)
        let ciphertext = UnsafeRawBufferPointer(rebasing: buffer[0..<length])
        do {
            try cipher.open(ciphertext, slot: slot, generation: record.generation, tag: record.tag, into: buffer)
        } catch {
            authenticationFailures.add(1, ordering: .relaxed)
            throw .corrupt(handle: handle.rawValue, reason: "slot \(slot), generation \(record.generation): \(error)")
        }
        return length
    }

    /// Frees the inner objects of `handles` and their slots. Handles that name nothing are
    /// ignored.
    public func free(_ handles: UnsafeBufferPointer<PageTierHandle>) {
        guard !handles.isEmpty else { return }
        withUnsafeTemporaryAllocation(of: PageTierHandle.self, capacity: handles.count) { innerHandles in
            var n = 0
            for handle in handles {
                let slot = Int(truncatingIfNeeded: handle.rawValue &- 1)
                guard handle.rawValue > 0, slot < capacity, slotsLock.withLock({ slots.isAllocated(slot) }) else { continue }
                let record = records[slot]
                guard record.innerHandle != 0 else { continue }
                innerHandles[n] = PageTierHandle(rawValue: record.innerHandle)
                n += 1
                release(slot: slot)
            }
            frees.add(n, ordering: .relaxed)
            if n > 0 { inner.free(UnsafeBufferPointer(rebasing: innerHandles[0..<n])) }
        }
    }

    /// This tier's counters (objects stored are its own slots in use; `storedBytes` is the inner
    /// tier's, as ciphertext is as long as plaintext).
    public var tierStatistics: PageTierStatistics {
        let innerStatistics = inner.tierStatistics
        var s = PageTierStatistics()
        s.storedBytes = innerStatistics.storedBytes
        s.storedObjects = slotsLock.withLock { slots.allocatedCount }
        s.acknowledgedWrites = acknowledged.load(ordering: .relaxed)
        s.refusedWrites = refused.load(ordering: .relaxed)
        s.reads = reads.load(ordering: .relaxed)
        s.failedReads = failedReads.load(ordering: .relaxed)
        s.frees = frees.load(ordering: .relaxed)
        s.pendingFrees = innerStatistics.pendingFrees
        return s
    }

    /// Reads that failed authentication so far.
    public var authenticationFailureCount: Int { authenticationFailures.load(ordering: .relaxed) }

    /// Checks that a slot is allocated exactly when its record names an inner object, and the
    /// key's page is locked and not dumpable; debug builds only, while no write runs.
    public func checkInvariants() {
        #if DEBUG
        key.checkInvariants()
        slotsLock.withLock { slots.checkInvariants() }
        for slot in 0..<capacity {
            let allocated = slotsLock.withLock { slots.isAllocated(slot) }
            precondition(allocated == (records[slot].innerHandle != 0), "slot \(slot): allocated \(allocated), inner handle \(records[slot].innerHandle)")
        }
        #endif
    }
}
