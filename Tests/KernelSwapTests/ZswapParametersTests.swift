import Foundation
import SystemPackage
import SystemSupport
import Testing

@testable import KernelSwap

@Suite struct ZswapParametersTests {
    @Test func cryptoAlgorithmsAreTheNameLines() {
        let text = "name         : lzo\ndriver       : lzo-generic\n\nname         : deflate\ntype : acomp\n"
        #expect(ZswapParameters.cryptoAlgorithms(text) == ["lzo", "deflate"])
    }

    @Test func parametersAreReadTrimmedWrittenAndSnapshot() throws {
        let machine = try FakeMachine()
        defer { machine.remove() }
        let parameters = machine.parameters
        #expect(try parameters.read("compressor") == "lzo")
        try parameters.write("7", to: "max_pool_percent")
        #expect(try machine.parameters.read("max_pool_percent") == "7")
        #expect(parameters.snapshot()["max_pool_percent"] == "7" && parameters.snapshot().count == ZswapParameters.names.count)
        #expect(throws: KernelSwapError.self) { _ = try parameters.read("no_such_parameter") }
        #expect(parameters.unavailableReason() == nil)
    }
}
