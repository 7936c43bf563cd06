import Testing
@testable import PageStore

@Test func placeholderPageStore() { #expect(Bool(true)) }
