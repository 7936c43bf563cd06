import ArgumentParser
import Testing

@testable import USwapCLI

/// `uswap cluster gc` against real clusters is tested in RedisTierTests (ClusterGCCommandTests),
/// beside the cluster the tests start.
@Suite("uswap cluster gc: arguments")
struct ClusterCommandTests {
    @Test("gc takes a redis:// cluster and a prefix; anything else is refused")
    func arguments() throws {
        let gc = try ClusterGC.parse(["redis://127.0.0.1:7100", "--prefix", "mine"])
        #expect(gc.url == "redis://127.0.0.1:7100" && gc.prefix == "mine")
        #expect(throws: (any Error).self) { try ClusterGC.parse(["/tmp/file"]) }
        #expect(throws: (any Error).self) { try ClusterGC.parse([]) }
    }

    @Test("A cluster nobody answers on is an error that says so")
    func unreachable() throws {
        // Port 1 on loopback: nothing listens there.
        let gc = try ClusterGC.parse(["redis://127.0.0.1:1"])
        #expect(throws: (any Error).self) { try gc.run() }
    }
}
