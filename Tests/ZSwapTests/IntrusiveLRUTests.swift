import Testing
@testable import ZSwap

@Suite struct IntrusiveLRUTests {
    @Test func pushFrontOrdersMostRecentFirstAndRemoveUnlinks() {
        var list = IntrusiveLRU(capacity: 8)
        for slot in [3, 1, 4, 5] { list.pushFront(slot) }
        #expect(list.orderedSlots() == [5, 4, 1, 3])
        #expect(list.last == 3 && list.first == 5)
        list.remove(1)
        list.remove(1)  // twice: nothing
        list.remove(6)  // never linked: nothing
        #expect(list.orderedSlots() == [5, 4, 3])
        #expect(list.count == 3)
        list.pushFront(3)  // move to head
        #expect(list.orderedSlots() == [3, 5, 4])
        #expect(list.last == 4)
        list.checkInvariants()
    }

    @Test func removingHeadAndTailKeepsEndsRight() {
        var list = IntrusiveLRU(capacity: 4)
        for slot in 0..<4 { list.pushFront(slot) }
        list.remove(3)
        list.remove(0)
        #expect(list.orderedSlots() == [2, 1])
        list.remove(2)
        list.remove(1)
        #expect(list.first == nil && list.last == nil && list.count == 0)
        list.checkInvariants()
    }

    @Test func randomOperationsMatchAnArrayModel() {
        var list = IntrusiveLRU(capacity: 64)
        var model: [Int] = []
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let slot = Int.random(in: 0..<64, using: &generator)
            if Bool.random(using: &generator) {
                list.pushFront(slot)
                model.removeAll { $0 == slot }
                model.insert(slot, at: 0)
            } else {
                list.remove(slot)
                model.removeAll { $0 == slot }
            }
        }
        #expect(list.orderedSlots() == model)
        list.checkInvariants()
    }
}
