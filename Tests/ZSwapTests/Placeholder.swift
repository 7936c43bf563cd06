import Testing
@testable import ZSwap

@Test func placeholderZSwap() { #expect(Bool(true)) }
