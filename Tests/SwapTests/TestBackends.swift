#if os(Linux)
import Glibc
#endif
import PageStore
import Synchronization

/// An in-memory SwapBackend for tests: raw page copies in one preallocated mapping, with
/// counters, optional delays (to widen race windows) and injected read failures.
///
/// Memory: `slotCount x pageSize` bytes mapped at init and unmapped in deinit; slot contents
/// are guarded by the swap layer's slot ownership (one writer per slot at a time).
final class MemoryBackend: SwapBackend, @unchecked Sendable {
    let pageSize: Int
    let slotCount: Int
    let freesOnNotify: Bool
    private let storage: UnsafeMutableRawPointer
    private let present: UnsafeMutablePointer<Atomic<UInt8>>

    let writes = Atomic<Int>(0)
    let reads = Atomic<Int>(0)
    let notifies = Atomic<Int>(0)
    let discards = Atomic<Int>(0)
    let stored = Atomic<Int>(0)
    /// Microseconds each write sleeps after it copied the page (before returning).
    let writeDelayMicroseconds = Atomic<Int>(0)
    /// Microseconds each read sleeps before copying.
    let readDelayMicroseconds = Atomic<Int>(0)
    /// When > 0, that many upcoming reads fail with an I/O error.
    let failingReads = Atomic<Int>(0)
    /// When set, a notify or discard of a slot that holds nothing is recorded here.
    let doubleFrees = Atomic<Int>(0)

    init(slotCount: Int, pageSize: Int = 4096, freesOnNotify: Bool = true) {
        self.slotCount = slotCount
        self.pageSize = pageSize
        self.freesOnNotify = freesOnNotify
        storage = mmap(nil, slotCount * pageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)!
        present = .allocate(capacity: slotCount)
        for i in 0..<slotCount { (present + i).initialize(to: Atomic<UInt8>(0)) }
    }

    deinit {
        munmap(storage, slotCount * pageSize)
        present.deinitialize(count: slotCount)
        present.deallocate()
    }

    func holds(_ slot: Int) -> Bool { present[slot].load(ordering: .acquiring) != 0 }

    func writePage(_ page: UnsafeRawBufferPointer, at slot: Int) throws(PageStoreError) {
        guard slot >= 0 && slot < slotCount else { throw .slotOutOfRange(slot: slot, slotCount: slotCount) }
        guard page.count == pageSize else { throw .wrongPageSize(expected: pageSize, actual: page.count) }
        (storage + slot * pageSize).copyMemory(from: page.baseAddress!, byteCount: pageSize)
        let delay = writeDelayMicroseconds.load(ordering: .relaxed)
        if delay > 0 { usleep(UInt32(delay)) }
        if present[slot].exchange(1, ordering: .acquiringAndReleasing) == 0 { stored.add(1, ordering: .relaxed) }
        writes.add(1, ordering: .relaxed)
    }

    func readPage(at slot: Int, into buffer: UnsafeMutableRawBufferPointer) throws(PageStoreError) {
        guard slot >= 0 && slot < slotCount else { throw .slotOutOfRange(slot: slot, slotCount: slotCount) }
        guard buffer.count == pageSize else { throw .wrongPageSize(expected: pageSize, actual: buffer.count) }
        let delay = readDelayMicroseconds.load(ordering: .relaxed)
        if delay > 0 { usleep(UInt32(delay)) }
        var failing = failingReads.load(ordering: .relaxed)
        while failing > 0 {
            let (exchanged, original) = failingReads.compareExchange(expected: failing, desired: failing - 1, ordering: .relaxed)
            if exchanged { throw .io(errno: EIO, operation: "injected read failure") }
            failing = original
        }
        guard holds(slot) else { throw .emptySlot(slot: slot) }
        buffer.baseAddress!.copyMemory(from: storage + slot * pageSize, byteCount: pageSize)
        reads.add(1, ordering: .relaxed)
    }

    func slotFreeNotify(_ slot: Int) {
        notifies.add(1, ordering: .relaxed)
        guard freesOnNotify else { return }
        drop(slot)
    }

    func discard(_ slot: Int) {
        discards.add(1, ordering: .relaxed)
        drop(slot)
    }

    private func drop(_ slot: Int) {
        if present[slot].exchange(0, ordering: .acquiringAndReleasing) != 0 {
            stored.subtract(1, ordering: .relaxed)
        } else if freesOnNotify {
            doubleFrees.add(1, ordering: .relaxed)
        }
    }

    var statistics: BackendStatistics {
        var s = BackendStatistics()
        s.storedPages = stored.load(ordering: .relaxed)
        s.origDataSize = s.storedPages * pageSize
        s.notifyFree = notifies.load(ordering: .relaxed)
        return s
    }
}

/// A noncopyable value that test threads share (an escaping closure cannot capture one).
final class Shared<Value: ~Copyable>: @unchecked Sendable {
    // @unchecked Sendable: the values shared are atomics, bitmaps and semaphores, made to be.
    let value: Value
    init(_ value: consuming Value) { self.value = value }
}
