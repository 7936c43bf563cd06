import ArgumentParser
import KernelSwap
import PageStore
import RedisTier
import SystemSupport
import TierCrypto

/// Where a store's second tier is, as the commands name it: `--tier FILE` or
/// `--tier redis://HOST:PORT[,HOST:PORT...]`. The one parser `bench swap` (and `uswap run`)
/// use.
enum TierSpec: Sendable, Equatable, CustomStringConvertible {
    /// A file at this path (created or truncated, removed afterwards).
    case file(path: String)
    /// A Redis Cluster reached through these seed nodes.
    case cluster(url: String, seeds: [NodeAddress])

    /// Parses `redis://HOST:PORT[,HOST:PORT...]` or a file path.
    ///
    /// - Throws: ``TierSpecError`` for an empty argument or a malformed address list.
    init(parsing argument: String) throws(TierSpecError) {
        if argument.isEmpty { throw .empty }
        if argument.hasPrefix("redis://") {
            do {
                self = .cluster(url: argument, seeds: try NodeAddress.seeds(from: argument))
            } catch {
                throw .badCluster(argument, error.description)
            }
        } else if argument.contains("://") {
            throw .unknownScheme(argument)
        } else {
            self = .file(path: argument)
        }
    }

    /// The argument it was parsed from.
    var description: String {
        switch self {
        case .file(let path): path
        case .cluster(let url, _): url
        }
    }
}

/// Why a `--tier` argument cannot be used.
enum TierSpecError: Error, Equatable, CustomStringConvertible {
    case empty
    case unknownScheme(String)
    case badCluster(String, String)

    var description: String {
        switch self {
        case .empty: "--tier needs a file path or redis://HOST:PORT[,HOST:PORT...]"
        case .unknownScheme(let argument):
            "--tier \(argument): only redis:// clusters and file paths are second tiers"
        case .badCluster(let argument, let reason): "--tier \(argument): \(reason)"
        }
    }
}

/// The second-tier options every command that makes a store takes: `--tier`, `--replicas`,
/// `--encrypt-tier`. Include them with `@OptionGroup var tier: TierOptions`.
struct TierOptions: ParsableArguments {
    @Option(name: .customLong("tier"), help: "The second tier for --backend zswap or zram: a file FILE (created or truncated, removed afterwards) or a Redis Cluster redis://HOST:PORT[,HOST:PORT...] (pages are keys, removed at the end).")
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

/// A second tier opened from a ``TierSpec``: the tier a store writes back to, what it is made
/// of, and how to close it (a cluster's keys are removed, a file is removed).
final class OpenedTier: Sendable {
    /// What the store writes back to (the encrypting tier when encryption was asked for).
    let tier: any PageTier
    /// The file, for a file tier.
    let file: BackingFile?
    /// The cluster, for a cluster tier.
    let cluster: RedisTier?
    /// The encrypting tier, when encryption was asked for.
    let encrypted: EncryptedPageTier?
    /// One line for progress output.
    let label: String

    /// The file's removal on SIGINT/SIGTERM/SIGHUP, for a named file tier.
    private let fileCleanup: CleanupToken?

    private init(
        tier: any PageTier, file: BackingFile?, fileCleanup: CleanupToken?, cluster: RedisTier?, encrypted: EncryptedPageTier?,
        label: String
    ) {
        self.tier = tier
        self.file = file
        self.fileCleanup = fileCleanup
        self.cluster = cluster
        self.encrypted = encrypted
        self.label = label
    }

    /// Opens the tier of `spec` for a store of `objectCount` objects at most: a file of that many
    /// blocks (set up as the bench's swap files are), or the cluster with `replicas` and a lease of
    /// `leaseTTLMilliseconds` (keys named after `label`); with `encrypt`, behind an ``EncryptedPageTier``.
    static func open(
        _ spec: TierSpec, objectCount: Int, replicas: Int = 1, leaseTTLMilliseconds: Int = 30_000, encrypt: Bool = false,
        label: String = "bench", existing: ExistingFilePolicy = .refuseNonEmpty
    ) throws -> OpenedTier {
        var file: BackingFile?
        var fileCleanup: CleanupToken?
        var cluster: RedisTier?
        let base: any PageTier
        var text: String
        switch spec {
        case .file(let path):
            let (opened, token) = try openBenchFile(path, blockCount: objectCount, existing: existing, registry: SignalCleanup.shared)
            file = opened
            fileCleanup = token
            // As `zswap:FILE` and `--writeback FILE`: no checksums (the cipher, when asked for,
            // authenticates every block), blocks reused rather than punched (a preallocated file).
            base = PageFileTier(file: opened, blockCount: objectCount, checksums: false, punchFreedBlocks: false)
            text = "file \(path)"
        case .cluster(let url, let seeds):
            var configuration = RedisTierConfiguration(seeds: seeds)
            configuration.replicas = replicas
            configuration.label = label
            configuration.leaseTTLMilliseconds = leaseTTLMilliseconds
            let tier: RedisTier
            do { tier = try RedisTier(configuration) } catch { throw TierOpenError.cluster(url, error) }
            cluster = tier
            base = tier
            text = "cluster \(url) (WAIT \(replicas), keys \(tier.namespace.keyPattern))"
        }
        guard encrypt else { return OpenedTier(tier: base, file: file, fileCleanup: fileCleanup, cluster: cluster, encrypted: nil, label: text) }
        do {
            // A batch of objects may be on its way while their slots' older copies are freed.
            let encrypted = try EncryptedPageTier(wrapping: base, capacity: objectCount + 1024)
            text += ", encrypted (AES-256-GCM)"
            return OpenedTier(tier: encrypted, file: file, fileCleanup: fileCleanup, cluster: cluster, encrypted: encrypted, label: text)
        } catch {
            try? cluster?.close()
            file?.close()
            if let fileCleanup { SignalCleanup.shared.cancel(fileCleanup) }
            throw TierOpenError.encryption(error)
        }
    }

    /// Closes the cluster (deleting the run's keys) or the file (removing it). Stop the store's
    /// writeback thread first.
    func close() throws {
        defer {
            file?.close()
            if let fileCleanup { SignalCleanup.shared.cancel(fileCleanup) }
        }
        if let cluster {
            do { try cluster.close() } catch { throw TierOpenError.cluster("the cluster", error) }
        }
    }
}

/// Why a second tier could not be opened or closed.
enum TierOpenError: Error, CustomStringConvertible {
    case cluster(String, RedisTierError)
    case encryption(TierCryptoError)

    var description: String {
        switch self {
        case .cluster(let url, let error): "cluster tier \(url): \(error)"
        case .encryption(let error): "tier encryption: \(error)"
        }
    }
}
