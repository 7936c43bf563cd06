import Synchronization
import SystemSupport
import Testing
@testable import Swap

@Suite struct AtomicArrayTests {
    @Test func elementsStartAtTheInitialValueAndChangeIndependently() {
        let array = AtomicArray<UInt64>(count: 5, initialValue: 7)
        array[2].store(9, ordering: .relaxed)
        #expect((0..<5).map { array[$0].load(ordering: .relaxed) } == [7, 7, 9, 7, 7])
        array.checkInvariants()
    }

    @Test func elementAddressesAreDistinctAndAligned() {
        let array = AtomicArray<UInt32>(count: 3, initialValue: 0)
        let addresses = (0..<3).map { Int(bitPattern: array.address(of: $0)) }
        #expect(addresses[1] - addresses[0] == 4 && addresses[2] - addresses[1] == 4)
        #expect(addresses.allSatisfy { $0 % 4 == 0 })
    }

    @Test(arguments: [0, 3, 4, 11])
    func claimFindsTheFirstMatchFromTheStartAndWrapsAround(start: Int) {
        let array = AtomicArray<UInt32>(count: 4, initialValue: 1)
        array[1].store(0, ordering: .relaxed)
        #expect(array.claim(from: start, expected: 0, desired: 5) == 1)
        #expect(array[1].load(ordering: .relaxed) == 5)
        #expect(array.claim(from: start, expected: 0, desired: 5) == nil, "a full turn finds none")
    }

    @Test func concurrentClaimsNeverTakeAnElementTwice() {
        let shared = Shared(AtomicArray<UInt32>(count: 256, initialValue: 0))
        let taken = Atomic<Int>(0)
        NativeThread.runAll(4) { t in
            while shared.value.claim(from: t * 64, expected: 0, desired: UInt32(t + 1)) != nil {
                taken.add(1, ordering: .relaxed)
            }
        }
        #expect(taken.load(ordering: .relaxed) == 256)
        #expect((0..<256).allSatisfy { shared.value[$0].load(ordering: .relaxed) != 0 })
    }
}
