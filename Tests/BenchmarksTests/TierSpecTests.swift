import Testing

@testable import SecondTier

@Suite("TierSpec: one way to name a second tier, --tier FILE or --tier redis://...")
struct TierSpecTests {
    @Test("A path is a file tier; redis:// is a cluster with its seed nodes")
    func parsesFilesAndClusters() throws {
        #expect(try TierSpec(parsing: "/var/tmp/x.swap") == .file(path: "/var/tmp/x.swap"))
        guard case .cluster(let url, let seeds) = try TierSpec(parsing: "redis://127.0.0.1:7100,10.0.0.2:7101") else {
            Issue.record("not a cluster")
            return
        }
        #expect(url == "redis://127.0.0.1:7100,10.0.0.2:7101")
        #expect(seeds.map(\.port) == [7100, 7101] && seeds.map(\.host) == ["127.0.0.1", "10.0.0.2"])
    }

    @Test("Bad tiers are refused with a reason", arguments: ["", "http://host:1", "redis://", "redis://host", "redis://host:notaport"])
    func refusesBadTiers(argument: String) {
        #expect(throws: TierSpecError.self) { try TierSpec(parsing: argument) }
    }
}
