import Testing
@testable import Swap

@Test func placeholderSwap() { #expect(Bool(true)) }
