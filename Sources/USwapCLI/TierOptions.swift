import ArgumentParser
import SecondTier

/// The second-tier options every command that makes a store takes: `--tier`, `--replicas`,
/// `--encrypt-tier`. Include them with `@OptionGroup var tier: TierOptions`.
struct TierOptions: ParsableArguments {
    @Option(name: .customLong("tier"), help: "The second tier for --backend zswap or zram: a file FILE (made new with mode 0600, a link there refused, a file holding data refused unless --force; removed afterwards; a directory gets an unnamed file) or a Redis Cluster redis://HOST:PORT[,HOST:PORT...] (pages are keys, removed at the end).")
    var tier: String?

    @Option(name: .customLong("replicas"), help: "With a cluster tier: replicas that must hold a page (WAIT) before the pool drops it.")
    var replicas: Int = 1

    @Option(name: .customLong("lease-ttl"), help: "With a cluster tier: the run's lease TTL in milliseconds (refreshed every third); `uswap cluster gc` removes a run's keys once it expired.")
    var leaseTTL: Int = 30_000

    @Flag(name: .customLong("encrypt-tier"), help: "Encrypt what reaches the second tier (AES-256-GCM, a random key locked in this process; a changed, moved or replayed block is a failed read).")
    var encrypt = false

    /// The parsed `--tier`, or nil without one.
    var spec: TierSpec? { get throws(TierSpecError) { try tier.map { (text) throws(TierSpecError) in try TierSpec(parsing: text) } } }

    func validate() throws {
        let spec: TierSpec?
        do { spec = try self.spec } catch { throw ValidationError("\(error)") }
        guard replicas >= 0 else { throw ValidationError("--replicas must be 0 or more") }
        if case .cluster = spec {} else if replicas != 1 {
            throw ValidationError("--replicas applies to a cluster tier (--tier redis://...)")
        }
        guard leaseTTL >= 300 else { throw ValidationError("--lease-ttl must be at least 300 ms") }
        if encrypt, spec == nil { throw ValidationError("--encrypt-tier needs a second tier (--tier)") }
    }
}
