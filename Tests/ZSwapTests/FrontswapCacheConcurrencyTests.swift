import Foundation
import PageStore
import Synchronization
import Testing
@testable import ZSwap

@Suite struct FrontswapCacheConcurrencyTests {
    /// What a worker knows about one of its slots.
    enum Model: Equatable {
        case empty
        case page(Int)
        /// After slotFreeNotify: freed, or kept because the slot was busy (miss_free).
        case emptyOrPage(Int)
    }

    @Test func fourThreadsStoringLoadingAndFreeingAlwaysReadWhatTheModelSays() throws {
        let workers = 4
        let operations = 20_000
        let slots = 1024
        // A pool far smaller than the data: writeback and file stores run all the time.
        let (cache, _) = try makeCache(slots: slots, limit: .bytes(256 << 10), shrinkOnLimit: true)
        let failures = Mutex<[String]>([])
        let done = DispatchSemaphore(value: 0)
        let loads = Atomic<Int>(0)

        for worker in 0..<workers {
            Thread {
                var model = [Model](repeating: .empty, count: slots / workers)
                var generator = SplitMix(seed: UInt64(worker) &* 0x1234_5678 &+ 1)
                var generation = 0
                var page = [UInt8](repeating: 0, count: 4096)
                func fail(_ message: String) { failures.withLock { $0.append(message) } }
                for _ in 0..<operations {
                    let index = Int(generator.next() % UInt64(slots / workers))
                    let slot = index * workers + worker
                    let roll = generator.next() % 100
                    do {
                        switch roll {
                        case 0..<45:
                            generation += 1
                            let kind: TestPage.Kind = generation % 10 == 0 ? .sameFilled : generation % 10 == 1 ? .incompressible : .compressible
                            try cache.store(TestPage.make(slot, generation, kind), at: slot)
                            model[index] = .page(generation)
                            // Remember the kind by generation: the loader rebuilds it the same way.
                        case 45..<85:
                            let expected = model[index]
                            do {
                                try page.withUnsafeMutableBytes { try cache.readPage(at: slot, into: $0) }
                                loads.add(1, ordering: .relaxed)
                                switch expected {
                                case .empty: fail("slot \(slot) read a page but should be empty")
                                case .page(let g), .emptyOrPage(let g):
                                    let kind: TestPage.Kind = g % 10 == 0 ? .sameFilled : g % 10 == 1 ? .incompressible : .compressible
                                    if page != TestPage.make(slot, g, kind) { fail("slot \(slot) read the wrong page (expected generation \(g))") }
                                    if case .emptyOrPage = expected { model[index] = .page(g) }
                                }
                            } catch PageStoreError.emptySlot {
                                switch expected {
                                case .empty: break
                                case .emptyOrPage: model[index] = .empty
                                case .page(let g): fail("slot \(slot) is empty, expected generation \(g)")
                                }
                            }
                        case 85..<93:
                            cache.discard(slot)
                            model[index] = .empty
                        case 93..<99:
                            // A swap-in with a single owner: the page was read and installed.
                            if case .page(let g) = model[index] {
                                cache.slotFreeNotify(slot)
                                model[index] = .emptyOrPage(g)
                            }
                        default:
                            cache.shrink(maxPages: 8)
                        }
                    } catch {
                        fail("slot \(slot): unexpected error \(error)")
                    }
                }
                done.signal()
            }.start()
        }
        for _ in 0..<workers { done.wait() }
        let problems = failures.withLock { $0 }
        #expect(problems.isEmpty, "\(problems.count) failures, first: \(problems.prefix(5))")
        let s = cache.frontswapStatistics
        #expect(loads.load(ordering: .relaxed) > 0)
        #expect(s.writtenBackPages > 0)
        #expect(s.fileLoads > 0)
        #expect(s.poolTotalSize <= 256 << 10)
        cache.checkInvariants()
    }
}

/// A small deterministic generator, so a failing run can be repeated.
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
