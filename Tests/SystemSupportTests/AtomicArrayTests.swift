import Synchronization
import Testing

@testable import SystemSupport

@Suite struct AtomicArrayTests {
    @Test func everyElementStartsWithTheValueAndChangesOnItsOwn() {
        let array = AtomicArray<UInt32>(count: 5, repeating: 7)
        #expect((0..<5).allSatisfy { array[$0].load(ordering: .relaxed) == 7 })
        array[2].store(9, ordering: .relaxed)
        #expect(array[2].bitwiseOr(16, ordering: .relaxed).oldValue == 9)
        #expect(array[2].load(ordering: .relaxed) == 25)
        #expect(array[1].load(ordering: .relaxed) == 7 && array[3].load(ordering: .relaxed) == 7)
        #expect(array.count == 5 && array.bytes == 20)
    }

    @Test func anEmptyArrayIsFine() {
        let array = AtomicArray<Bool>(count: 0, repeating: false)
        #expect(array.count == 0 && array.bytes == 0)
    }

    @Test func threadsAddingToTheirOwnAndSharedElementsLoseNothing() {
        let array = Shared()
        NativeThread.runAll(4) { thread in
            for _ in 0..<10_000 {
                array.values[thread].add(1, ordering: .relaxed)
                array.values[4].add(1, ordering: .relaxed)
            }
        }
        #expect((0..<4).allSatisfy { array.values[$0].load(ordering: .relaxed) == 10_000 })
        #expect(array.values[4].load(ordering: .relaxed) == 40_000)
    }

    /// An array shared between threads, as a class's stored property holds one.
    final class Shared: Sendable {
        let values = AtomicArray<Int>(count: 5, repeating: 0)
    }
}
