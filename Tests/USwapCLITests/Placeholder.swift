import Testing
@testable import USwapCLI

@Test func placeholderUSwapCLI() { #expect(Bool(true)) }
