import PageStore
import Testing

@testable import ZRAM

@Suite struct ZramErrorTests {
    @Test func messagesSayWhatHappenedAndWhatToDo() {
        #expect(ZramError.unalignedIO(offset: 100, length: 512).description.contains("512"))
        #expect(ZramError.outOfRange(offset: 0, length: 8192, disksize: 4096).description.contains("4096"))
        #expect(ZramError.noSecondaryCodec.description.contains("secondaryCodec"))
        #expect(ZramError.codecUnavailable(codec: "zstd-1", reason: "no libzstd").description.contains("install"))
        #expect(ZramError.page(.emptySlot(slot: 3)).description == PageStoreError.emptySlot(slot: 3).description)
    }
}
