import Synchronization
import SystemSupport
import Testing
@testable import Swap

@Suite struct AtomicBitmapTests {
    @Test(arguments: [1, 5, 63, 64])
    func everyFlagIsSetOnceThenTheBitmapIsFull(capacity: Int) {
        let bitmap = AtomicBitmap(capacity: capacity)
        for expected in 0..<capacity { #expect(bitmap.setLowestClear() == expected) }
        #expect(bitmap.setLowestClear() == nil)
        #expect(bitmap.setCount == capacity)
        bitmap.clear(capacity / 2)
        #expect(bitmap.setLowestClear() == capacity / 2)
        bitmap.checkInvariants()
    }

    @Test func clearLowestSetTakesSetFlagsInOrder() {
        let bitmap = AtomicBitmap(capacity: 8)
        bitmap.set(6)
        bitmap.set(2)
        #expect(bitmap.clearLowestSet() == 2)
        #expect(bitmap.clearLowestSet() == 6)
        #expect(bitmap.clearLowestSet() == nil)
        #expect(bitmap.load() == 0)
    }

    @Test func concurrentTakersNeverHoldTheSameFlag() {
        let bitmap = Shared(AtomicBitmap(capacity: 3))
        let holders = Shared(AtomicArray<Int>(count: 3, initialValue: 0))
        let clashes = Atomic<Int>(0)
        NativeThread.runAll(4) { _ in
            for _ in 0..<20_000 {
                guard let flag = bitmap.value.setLowestClear() else { continue }
                if holders.value[flag].add(1, ordering: .relaxed).newValue != 1 { clashes.add(1, ordering: .relaxed) }
                holders.value[flag].subtract(1, ordering: .relaxed)
                bitmap.value.clear(flag)
            }
        }
        #expect(clashes.load(ordering: .relaxed) == 0)
        #expect(bitmap.value.setCount == 0)
    }
}
