import Testing
@testable import ZRAM

@Test func placeholderZRAM() { #expect(Bool(true)) }
