import KernelSwap
import PageStore
import RedisTier
import SystemSupport
import TierCrypto

/// Where a store's second tier is, as the commands name it: `--tier FILE` or
/// `--tier redis://HOST:PORT[,HOST:PORT...]`. The one parser `bench swap` and `uswap run`
/// use.
public enum TierSpec: Sendable, Equatable, CustomStringConvertible {
    /// A file at this path (made new, mode 0600; a link is refused, a file holding data too unless
    /// forced; removed afterwards), or an unnamed file in this directory.
    case file(path: String)
    /// A Redis Cluster reached through these seed nodes.
    case cluster(url: String, seeds: [NodeAddress])

    /// Parses `redis://HOST:PORT[,HOST:PORT...]` or a file path.
    ///
    /// - Throws: ``TierSpecError`` for an empty argument or a malformed address list.
    public init(parsing argument: String) throws(TierSpecError) {
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
    public var description: String {
        switch self {
        case .file(let path): path
        case .cluster(let url, _): url
        }
    }
}

/// Why a `--tier` argument cannot be used.
public enum TierSpecError: Error, Equatable, CustomStringConvertible {
    /// `--tier` was given an empty argument.
    case empty
    /// A URL whose scheme is not `redis://`.
    case unknownScheme(String)
    /// A `redis://` list that does not parse (the argument, the reason).
    case badCluster(String, String)

    /// What went wrong and what to give instead.
    public var description: String {
        switch self {
        case .empty: "--tier needs a file path or redis://HOST:PORT[,HOST:PORT...]"
        case .unknownScheme(let argument):
            "--tier \(argument): only redis:// clusters and file paths are second tiers"
        case .badCluster(let argument, let reason): "--tier \(argument): \(reason)"
        }
    }
}

/// A second tier opened from a ``TierSpec``: the tier a store writes back to, what it is made
/// of, and how to close it (a cluster's keys are removed, a file is removed).
public final class OpenedTier: Sendable {
    /// What the store writes back to (the encrypting tier when encryption was asked for).
    public let tier: any PageTier
    /// The file, for a file tier.
    public let file: BackingFile?
    /// The cluster, for a cluster tier.
    public let cluster: RedisTier?
    /// The encrypting tier, when encryption was asked for.
    public let encrypted: EncryptedPageTier?
    /// One line for progress output.
    public let label: String

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
    /// `leaseTTLMilliseconds` (keys named after `label`); with `encrypt`, behind an `EncryptedPageTier`.
    /// `fileStyle` says how a file is made (``TierFileStyle``).
    public static func open(
        _ spec: TierSpec, objectCount: Int, replicas: Int = 1, leaseTTLMilliseconds: Int = 30_000, encrypt: Bool = false,
        label: String = "bench", existing: ExistingFilePolicy = .refuseNonEmpty, fileStyle: TierFileStyle = .swapFile
    ) throws -> OpenedTier {
        var file: BackingFile?
        var fileCleanup: CleanupToken?
        var cluster: RedisTier?
        let base: any PageTier
        var text: String
        switch spec {
        case .file(let path):
            let (opened, token) = try openBenchFile(
                path, blockCount: objectCount, existing: existing, registry: SignalCleanup.shared, style: fileStyle)
            file = opened
            fileCleanup = token
            // As `zswap:FILE` and `--writeback FILE`: no checksums (the cipher, when asked for,
            // authenticates every block); a preallocated file's blocks are reused rather than
            // punched, a sparse one's punched.
            base = PageFileTier(file: opened, blockCount: objectCount, checksums: false, punchFreedBlocks: fileStyle == .unlinked)
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

    /// Objects one write to this tier should carry: a cluster wants large batches (each waits
    /// for the slowest master's WAIT), a file tier keeps the store's own `fileBatch`.
    public func writebackBatchSize(fileBatch: Int) -> Int {
        cluster != nil ? 256 : fileBatch
    }

    /// Pages the tier holds, has taken and has given back: its counters, the cluster's or the
    /// file's (through the encrypting tier when there is one).
    public var statistics: PageTierStatistics { tier.tierStatistics }

    /// Closes the cluster (deleting the run's keys) or the file (removing it). Stop the store's
    /// writeback thread first.
    public func close() throws {
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
public enum TierOpenError: Error, CustomStringConvertible {
    /// The cluster (named by its URL) could not be reached or closed.
    case cluster(String, RedisTierError)
    /// The encrypting tier could not be set up (its key could not be locked in memory).
    case encryption(TierCryptoError)

    /// What went wrong, with the tier it happened to.
    public var description: String {
        switch self {
        case .cluster(let url, let error): "cluster tier \(url): \(error)"
        case .encryption(let error): "tier encryption: \(error)"
        }
    }
}
