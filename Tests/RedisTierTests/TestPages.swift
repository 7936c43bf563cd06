import PageStore
import Foundation
import RedisTier
import Synchronization

/// Pages the tests write: object `i` has a length from 1 to 4096 bytes and contents that depend
/// on `i`, so a page read back under another handle, or cut short, is caught.
enum TestPages {
    /// Object `i`'s bytes.
    static func object(_ i: Int) -> [UInt8] {
        let length = 1 + (i &* 977 &+ 31) % 4096
        return (0..<length).map { j in UInt8(truncatingIfNeeded: (i &* 131) ^ (j &* 7) ^ (j >> 8)) }
    }

    /// Writes objects `indices` in batches of `batchSize`, writing refused ones again until they are
    /// acknowledged or `seconds` pass; returns the handles of those acknowledged.
    static func write(
        _ tier: some PageTier, _ indices: some Sequence<Int>, batchSize: Int = 64, seconds: Double = 30
    ) throws -> [Int: PageTierHandle] {
        var handles: [Int: PageTierHandle] = [:]
        var pending = Array(indices)
        var batch = PageTierBatch(capacity: batchSize, maxObjectSize: tier.maxObjectSize)
        let deadline = Date().addingTimeInterval(seconds)
        while !pending.isEmpty && Date() < deadline {
            batch.removeAll()
            let members = Array(pending.prefix(batchSize))
            pending.removeFirst(members.count)
            for i in members { try object(i).withUnsafeBytes { _ = try batch.append($0) } }
            try tier.write(&batch)
            batch.checkInvariants()
            for (k, i) in members.enumerated() {
                if let handle = batch.handle(at: k) { handles[i] = handle } else { pending.append(i) }
            }
            if batch.failure != nil { Thread.sleep(forTimeInterval: 0.05) }
        }
        return handles
    }

    /// Reads every handle back and returns the indices whose bytes differ (or whose read threw).
    static func verify(_ tier: some PageTier, _ handles: [Int: PageTierHandle]) -> [Int: String] {
        var wrong: [Int: String] = [:]
        var buffer = [UInt8](repeating: 0, count: tier.maxObjectSize)
        for (i, handle) in handles {
            do {
                let length = try buffer.withUnsafeMutableBytes { try tier.read(handle, into: $0) }
                if Array(buffer[0..<length]) != object(i) { wrong[i] = "different bytes (\(length) read)" }
            } catch {
                wrong[i] = "\(error)"
            }
        }
        return wrong
    }

    /// Sends the tier's queued frees until none is left or `seconds` pass (a node that just came
    /// back may be passed over for a moment); true when none is left.
    static func drainFrees(_ tier: RedisTier, seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while tier.flushFrees() > 0 {
            if Date() > deadline { return false }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return true
    }
}
