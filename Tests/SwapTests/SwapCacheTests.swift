import Synchronization
import Testing
@testable import Swap

@Suite struct SwapCacheTests {
    @Test func framesAreExclusiveAndPageSized() throws {
        let cache = try SwapCache(frameCount: 4, pageSize: 4096)
        let a = cache.acquire(), b = cache.acquire()
        #expect(a != b)
        #expect(cache.frame(a).count == 4096)
        #expect(cache.framesInUse == 2)
        cache.release(a)
        cache.release(b)
        cache.checkInvariants()
    }

    @Test func concurrentHoldersNeverShareAFrame() throws {
        let cache = try SwapCache(frameCount: 2, pageSize: 4096)
        let clashes = Atomic<Int>(0)
        onThreads(4) { t in
            for i in 0..<5_000 {
                let f = cache.acquire()
                let words = cache.frame(f).baseAddress!.assumingMemoryBound(to: Int.self)
                let mark = t << 32 | i
                words[0] = mark
                if words[0] != mark { clashes.add(1, ordering: .relaxed) }
                cache.release(f)
            }
        }
        #expect(clashes.load(ordering: .relaxed) == 0)
        cache.checkInvariants()
    }
}
