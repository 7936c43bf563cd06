import Foundation
import PageStore
import Synchronization
import Testing

@testable import ZRAM

/// Pages that name their own slot and generation, so any reader can check what it got.
enum StressPage {
    /// The page for (`slot`, `generation`): every 8th generation same-filled, every 8th (offset
    /// 1) incompressible, the rest compressible to sizes spread over the classes.
    static func fill(_ page: UnsafeMutableRawBufferPointer, slot: Int, generation: Int) {
        let identity = UInt64(slot) << 32 | UInt64(generation)
        let words = page.count / 8
        let base = page.baseAddress!
        switch generation % 8 {
        case 0:
            for i in 0..<words { base.storeBytes(of: identity, toByteOffset: i * 8, as: UInt64.self) }
        default:
            var state = identity &* 0x9E37_79B9_7F4A_7C15 | 1
            let used = generation % 8 == 1 ? words : 2 + Int(identity % 400)
            base.storeBytes(of: identity, toByteOffset: 0, as: UInt64.self)
            for i in 1..<words {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                base.storeBytes(of: i < used ? state | 1 : 0, toByteOffset: i * 8, as: UInt64.self)
            }
        }
    }

    /// Whether `page` is exactly the page of `slot` at some generation; returns that generation.
    static func generation(of page: UnsafeRawBufferPointer, slot: Int, scratch: UnsafeMutableRawBufferPointer) -> Int? {
        let identity = page.loadUnaligned(as: UInt64.self)
        guard Int(identity >> 32) == slot else { return nil }
        let generation = Int(identity & 0xFFFF_FFFF)
        fill(scratch, slot: slot, generation: generation)
        return memcmp(page.baseAddress!, scratch.baseAddress!, page.count) == 0 ? generation : nil
    }
}

@Suite struct ZramDeviceConcurrencyTests {
    /// What a worker knows about one of its slots.
    enum Model {
        case empty
        case page(Int)
        /// After slotFreeNotify: freed, or kept because the slot was busy (miss_free).
        case emptyOrPage(Int)
    }

    @Test func concurrentWritesReadsAndDiscardsMatchAModelExactly() throws {
        let workers = 4
        let operationsPerWorker = 50_000
        let slots = 2048
        let device = try makePrefixDevice(slots: slots)
        let failures = Mutex<[String]>([])
        let running = Atomic<Int>(workers)
        let done = DispatchSemaphore(value: 0)
        let reads = Atomic<Int>(0)

        for worker in 0..<workers {
            Thread {
                defer { running.subtract(1, ordering: .releasing); done.signal() }
                let page = PageBuffer(), scratch = PageBuffer()
                var model = [Model](repeating: .empty, count: slots / workers)
                var next = [Int](repeating: 0, count: slots / workers)
                var rng = SplitMix(seed: UInt64(worker + 1))
                func fail(_ message: String) { failures.withLock { $0.append("worker \(worker): \(message)") } }
                for _ in 0..<operationsPerWorker {
                    let local = Int(rng.next() % UInt64(slots / workers))
                    let slot = local * workers + worker
                    let dice = rng.next() % 100
                    if dice < 45 {
                        next[local] += 1
                        StressPage.fill(page.bytes, slot: slot, generation: next[local])
                        do { try device.writePage(page.raw, at: slot) } catch { fail("write \(slot): \(error)"); return }
                        model[local] = .page(next[local])
                    } else if dice < 85 {
                        reads.add(1, ordering: .relaxed)
                        let outcome = Result(catching: { () throws(PageStoreError) in try device.readPage(at: slot, into: page.bytes) })
                        switch outcome {
                        case .success:
                            let got = StressPage.generation(of: page.raw, slot: slot, scratch: scratch.bytes)
                            switch model[local] {
                            case .empty: fail("slot \(slot) should be empty, read generation \(String(describing: got))")
                            case .page(let g), .emptyOrPage(let g):
                                if got != g { fail("slot \(slot): expected generation \(g), read \(String(describing: got))") }
                                model[local] = .page(g)
                            }
                        case .failure(.emptySlot):
                            if case .page(let g) = model[local] { fail("slot \(slot) lost generation \(g)") }
                            model[local] = .empty
                        case .failure(let error):
                            fail("read \(slot): \(error)")
                        }
                    } else if dice < 95 {
                        device.discard(slot)
                        model[local] = .empty
                    } else {
                        device.slotFreeNotify(slot)
                        if case .page(let g) = model[local] { model[local] = .emptyOrPage(g) }
                    }
                }
            }.start()
        }
        // A roving reader contends with the workers on their slots (and causes miss_free).
        Thread {
            let page = PageBuffer(), scratch = PageBuffer()
            var rng = SplitMix(seed: 99)
            while running.load(ordering: .acquiring) > 0 {
                let slot = Int(rng.next() % UInt64(slots))
                switch Result(catching: { () throws(PageStoreError) in try device.readPage(at: slot, into: page.bytes) }) {
                case .success:
                    if StressPage.generation(of: page.raw, slot: slot, scratch: scratch.bytes) == nil {
                        failures.withLock { $0.append("roving reader: slot \(slot) holds a torn or foreign page") }
                    }
                case .failure(.emptySlot): break
                case .failure(let error): failures.withLock { $0.append("roving reader: \(error)") }
                }
            }
            done.signal()
        }.start()
        // A compactor moves objects underneath everyone.
        Thread {
            while running.load(ordering: .acquiring) > 0 {
                device.compact()
                usleep(2000)
            }
            done.signal()
        }.start()
        for _ in 0..<(workers + 2) { done.wait() }

        let found = failures.withLock { $0 }
        #expect(found.isEmpty, "\(found.prefix(10))")
        #expect(reads.load(ordering: .relaxed) > 50_000)
        device.checkInvariants()
        let stat = device.mmStat
        print("stress: \(workers) workers x \(operationsPerWorker) ops; mm_stat \(stat.line)io_stat \(device.ioStat.line)debug_stat miss_free \(device.debugStat.missFree)")
        // Everything still stored reads back as some valid generation of its slot.
        let page = PageBuffer(), scratch = PageBuffer()
        for slot in 0..<slots {
            switch Result(catching: { () throws(PageStoreError) in try device.readPage(at: slot, into: page.bytes) }) {
            case .success: #expect(StressPage.generation(of: page.raw, slot: slot, scratch: scratch.bytes) != nil)
            case .failure(.emptySlot): break
            case .failure(let error): Issue.record("final read of \(slot): \(error)")
            }
        }
    }
}

/// A small deterministic generator.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
