import Testing

@testable import ZsPool

@Suite struct ZsPoolErrorTests {
    @Test func messagesSayWhatToDo() {
        #expect(ZsPoolError.outOfAddressSpace(bytes: 1 << 40).description.contains("fewer spans"))
        #expect(ZsPoolError.invalidConfiguration("page size 3 is bad: use 4096").description == "page size 3 is bad: use 4096")
    }
}
