import SystemSupport

/// What ``RedisTier/collectGarbage(_:)`` found and removed.
public struct GarbageCollection: Sendable, Equatable {
    /// Runs whose lease is gone: their keys were removed.
    public var deadRuns: [String] = []
    /// Runs whose lease is alive: left alone.
    public var liveRuns: [String] = []
    /// Keys removed.
    public var keysRemoved = 0
    /// Masters that could not be scanned or cleaned (run gc again once they are back).
    public var problems: [String] = []

    /// All empty.
    public init() {}

    /// One line for people: what was removed and what was kept.
    public var summary: String {
        var text = "gc: removed \(keysRemoved) keys of \(deadRuns.count) dead runs; kept \(liveRuns.count) live runs"
        if !deadRuns.isEmpty { text += "\ndead: " + deadRuns.sorted().joined(separator: " ") }
        if !liveRuns.isEmpty { text += "\nlive: " + liveRuns.sorted().joined(separator: " ") }
        if !problems.isEmpty { text += "\nproblems: " + problems.joined(separator: "; ") }
        return text
    }
}

extension RedisTier {
    /// Removes the keys of every run under the configuration's key prefix whose lease is gone
    /// (the run was killed or lost its machine), and leaves every run with a live lease alone:
    /// `uswap cluster gc redis://...`.
    ///
    /// Every master is scanned for `PREFIX:*:*`; for each run found, the lease `PREFIX:RUN` is
    /// checked, and only when it does not exist are the run's keys (`PREFIX:RUN:*`, scanned on
    /// every master again) unlinked. A run that is alive but has not refreshed its lease for
    /// longer than its TTL (stopped, cut off from the cluster) counts as dead: that is what the
    /// TTL means; choose it longer than any stall a run should survive.
    ///
    /// - Throws: ``RedisTierError/unreachable(_:)`` when no node answers, the configuration's
    ///   errors; a master that fails midway is reported in ``GarbageCollection/problems``.
    public static func collectGarbage(_ configuration: RedisTierConfiguration) throws(RedisTierError) -> GarbageCollection {
        if let problem = configuration.problem { throw .invalidConfiguration(problem) }
        _ = try TierNamespace(prefix: configuration.keyPrefix, run: "gc")  // validates the prefix
        let counters = RedisTierCounters()
        let client = ClusterClient(
            seeds: configuration.seeds,
            settings: ConnectionSettings(
                connectTimeoutNanoseconds: configuration.connectTimeoutMilliseconds * 1_000_000,
                ioTimeoutNanoseconds: configuration.ioTimeoutMilliseconds * 1_000_000,
                downNanoseconds: configuration.ioTimeoutMilliseconds * 1_000_000,
                bufferCapacity: 64 << 10, maxIdleConnections: 2),
            counters: counters)
        defer { client.closeAll() }
        let topology = try client.refresh()
        let prefix = configuration.keyPrefix
        var report = GarbageCollection()
        var runs = Set<String>()
        for master in topology.masters {
            do {
                try client.scan(master, matching: TierNamespace.pagePattern(prefix: prefix)) { keys in
                    for key in keys {
                        if let run = TierNamespace.run(ofPageKey: key, prefix: prefix) { runs.insert(run) }
                    }
                }
            } catch {
                report.problems.append("scan of \(master.address): \(error)")
            }
        }
        for run in runs.sorted() {
            let namespace = try TierNamespace(prefix: prefix, run: run)
            let lease: RESPValue
            do { lease = try client.routedCommand(["EXISTS", namespace.leaseKey], key: namespace.leaseKey) } catch {
                report.problems.append("lease of \(run): \(error)")
                continue
            }
            guard lease.integerValue == 0 else {
                report.liveRuns.append(run)
                continue
            }
            report.deadRuns.append(run)
            for master in client.topology.masters {
                do {
                    try client.scan(master, matching: namespace.keyPattern) { (keys) throws(RedisTierError) in
                        report.keysRemoved += try client.unlink(keys, on: master)
                    }
                } catch {
                    report.problems.append("keys of \(run) on \(master.address): \(error)")
                }
            }
        }
        return report
    }
}
