import PageStore
import Synchronization

/// A tier in memory that lets tests do what an attacker with the file or the cluster could:
/// read the stored bytes, change them, and put one object's bytes in another's place.
final class MemoryTier: PageTier, Sendable {
    let maxObjectSize: Int
    var handlesAreReused: Bool { false }
    var isAsyncSignalSafe: Bool { false }
    private let state = Mutex<(next: UInt64, objects: [UInt64: [UInt8]], frees: Int)>((1, [:], 0))

    init(maxObjectSize: Int = 4096) { self.maxObjectSize = maxObjectSize }

    func write(_ batch: inout PageTierBatch) throws(PageTierError) {
        batch.resetResults()
        for i in 0..<batch.count {
            let bytes = Array(batch.object(at: i))
            let handle = state.withLock { state -> UInt64 in
                let handle = state.next
                state.next += 1
                state.objects[handle] = bytes
                return handle
            }
            batch.acknowledge(i, as: PageTierHandle(rawValue: handle))
        }
    }

    func read(_ handle: PageTierHandle, into buffer: UnsafeMutableRawBufferPointer) throws(PageTierError) -> Int {
        guard let bytes = state.withLock({ $0.objects[handle.rawValue] }) else { throw .missing(handle: handle.rawValue) }
        guard bytes.count <= buffer.count else { throw .bufferTooSmall(needed: bytes.count, available: buffer.count) }
        buffer.copyBytes(from: bytes)
        return bytes.count
    }

    func free(_ handles: UnsafeBufferPointer<PageTierHandle>) {
        state.withLock { state in
            for handle in handles where state.objects.removeValue(forKey: handle.rawValue) != nil { state.frees += 1 }
        }
    }

    var tierStatistics: PageTierStatistics {
        state.withLock { state in
            var s = PageTierStatistics()
            s.storedObjects = state.objects.count
            s.frees = state.frees
            return s
        }
    }

    /// The handles stored, lowest first.
    var handles: [UInt64] { state.withLock { $0.objects.keys.sorted() } }

    /// The bytes stored under `handle`.
    func bytes(of handle: UInt64) -> [UInt8]? { state.withLock { $0.objects[handle] } }

    /// Puts `bytes` under `handle` (an attacker's write).
    func replace(_ handle: UInt64, with bytes: [UInt8]) { state.withLock { $0.objects[handle] = bytes } }
}

/// Objects the tests write: object `i` has a length from 1 to 4096 bytes and contents that
/// depend on `i`.
enum TestPages {
    /// Object `i`'s bytes.
    static func object(_ i: Int) -> [UInt8] {
        let length = 1 + (i &* 977 &+ 31) % 4096
        return (0..<length).map { j in UInt8(truncatingIfNeeded: (i &* 131) ^ (j &* 7) ^ (j >> 8)) }
    }
}
