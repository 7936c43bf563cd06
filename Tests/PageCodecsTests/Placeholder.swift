import Testing
@testable import PageCodecs

@Test func placeholderPageCodecs() { #expect(Bool(true)) }
