import PageStore
import Testing
import ZsPool
@testable import ZSwap

@Suite struct ZSwapErrorTests {
    @Test func messagesSayWhatHappenedAndWhatToDo() {
        #expect(ZSwapError.codecUnavailable(codec: "zstd-3", reason: "no libzstd").description.contains("install"))
        #expect(ZSwapError.pool(.outOfAddressSpace(bytes: 1 << 40)).description.contains("fewer spans"))
        #expect(ZSwapError.file(.emptySlot(slot: 2)).description.contains("slot 2"))
        #expect(ZSwapError.invalidConfiguration("raise the limit").description == "raise the limit")
    }
}
