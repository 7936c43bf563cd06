import Testing

@testable import ZRAM

@Suite struct SlotFlagsTests {
    @Test func flagsSitAboveTheSizeFieldInTheKernelsOrder() {
        let order: [ZramSlotFlags] = [.lock, .same, .writtenBack, .postProcessing, .huge, .idle, .incompressible, .priorityBit1, .priorityBit2]
        for (i, flag) in order.enumerated() {
            #expect(flag.rawValue == 1 << (ZramSlotFlags.shift + UInt32(i)))
            #expect(flag.rawValue & ZramSlotFlags.sizeMask == 0)
        }
        #expect(ZramSlotFlags.sizeMask >= 65536, "the size field must hold a 64 KiB page")
    }

    @Test func priorityReadsTheTwoPriorityBits() {
        #expect(ZramSlotFlags([]).priority == 0)
        #expect(ZramSlotFlags.priorityBit1.priority == 1)
        #expect(ZramSlotFlags.priorityBit2.priority == 2)
        #expect(ZramSlotFlags([.priorityBit1, .priorityBit2, .idle]).priority == 3)
    }

    @Test func descriptionNamesTheFlagsSet() {
        #expect(ZramSlotFlags([.same, .idle]).description == "same|idle")
        #expect(ZramSlotFlags([]).description == "")
    }
}
