import ArgumentParser
import SecondTier
import RedisTier

/// `uswap cluster ...`: housekeeping of the Redis Clusters that hold cluster tiers.
struct Cluster: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Housekeeping of a Redis Cluster used as a second tier.",
        subcommands: [ClusterGC.self])
}

/// `uswap cluster gc redis://...`: removes the keys of runs whose lease is gone.
struct ClusterGC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove the pages of runs that died (their lease expired); never a live run's.",
        discussion: """
            Every run that keeps pages in the cluster holds a lease key (PREFIX:RUN) with a TTL it \
            refreshes (30 s by default). gc scans every master for PREFIX:*:* keys, and removes \
            the keys of each run whose lease no longer exists. A run stopped or cut off for \
            longer than its TTL counts as dead. Exits non-zero when a node could not be scanned \
            or cleaned (run it again once the node is back).
            """)

    @Argument(help: "The cluster: redis://HOST:PORT[,HOST:PORT...] (any nodes of it).")
    var url: String

    @Option(help: "The key prefix the runs used.")
    var prefix: String = "uswap"

    func validate() throws {
        guard case .cluster = try? TierSpec(parsing: url) else {
            throw ValidationError("give the cluster as redis://HOST:PORT[,HOST:PORT...], not \(url)")
        }
    }

    func run() throws {
        var configuration = try RedisTierConfiguration(url: url)
        configuration.keyPrefix = prefix
        let report = try RedisTier.collectGarbage(configuration)
        print(report.summary)
        if !report.problems.isEmpty { throw ExitCode(1) }
    }
}
