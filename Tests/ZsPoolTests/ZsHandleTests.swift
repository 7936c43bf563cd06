import Testing

@testable import ZsPool

@Suite struct ZsHandleTests {
    @Test func aHandleIsTheSpanAboveSixteenBitsOfObject() {
        let handle = ZsHandle(span: 70_000, object: 513)
        #expect(handle.rawValue == 70_000 << 16 | 513)
        #expect(handle.span == 70_000 && handle.object == 513)
        #expect(ZsHandle(rawValue: handle.rawValue) == handle)
        #expect(handle.description == "70000:513")
    }
}
