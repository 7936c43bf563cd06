import SystemSupport

/// What a soak did and found, summed over its rounds (and over its worker processes): the
/// figures `uswap soak` prints, in its `--json` object too.
public struct SoakTotals: Sendable, Equatable, Codable {
    /// Rounds finished.
    public var rounds = 0
    /// Rounds finished, by backend (`zram`, `zswap+file`, `zram+writeback`).
    public var roundsByBackend: [String: Int] = [:]
    /// Rounds run in a child process whose touch of a page with a permanent read fault must
    /// end in SIGBUS that freed nothing.
    public var sigbusRounds = 0
    /// Operations the workers and checkers did: page writes, checked reads, snapshots,
    /// prefaults, sweeps, permanent-fault checks, tier steps (writeback, shrink, compaction).
    public var operations = 0
    /// Pages compared with the model.
    public var pageChecks = 0
    /// Snapshots taken (by workers and checkers).
    public var snapshots = 0
    /// Faults injected into backing files (reads, writes, punches, delays).
    public var faultsInjected = 0
    /// Of ``faultsInjected``: read faults (EIO, short, corrupt).
    public var readFaultsInjected = 0
    /// Of ``faultsInjected``: write faults (ENOSPC, EIO, torn).
    public var writeFaultsInjected = 0
    /// Of ``faultsInjected``: slow calls (delays).
    public var delaysInjected = 0
    /// Read retries the regions made (each absorbed a failed read).
    public var readRetries = 0
    /// Reads that failed in the regions (retried or not).
    public var failedReads = 0
    /// Faults that failed as they had to (permanent read faults in the checks).
    public var failedFaults = 0
    /// Snapshots that failed with an I/O or checksum error while faults were injected (a
    /// snapshot does not retry): expected, not a mismatch.
    public var absorbedSnapshotErrors = 0
    /// Typed errors the backends' own operations returned under faults, as they must
    /// (writeback failed, file full, writeback limit reached).
    public var typedErrors = 0
    /// Permanent-fault checks done: a swap-in that failed, freed nothing and came back.
    public var permanentChecks = 0
    /// Copies zram still held after a region closed because a free notification found their
    /// slot locked (`miss_free`: kept until the slot is reused or the device reset, as in the
    /// kernel); freed by the round's teardown. Not a leak while no more than the misses.
    public var missedFreeCopies = 0
    /// Swap-ins and swap-outs in the regions.
    public var swapIns = 0
    /// Pages evicted to the backends.
    public var swapOuts = 0
    /// Everything that disagreed with the model or broke a rule (wrong contents, a failure
    /// that freed something, an unexpected error, a worker that died or hung): must be 0.
    public var mismatches = 0
    /// The first mismatches, described.
    public var mismatchDetails: [String] = []
    /// Rounds after whose teardown something was left behind (pool bytes, slots, stored
    /// pages, descriptors, threads, mappings or RSS beyond the slack): must be 0.
    public var leaks = 0
    /// The first leaks, described.
    public var leakDetails: [String] = []
    /// Worker processes that died (a signal, an unexpected exit) or hung.
    public var crashes = 0
    /// The process footprints the leak checks compared.
    public var footprint = FootprintFigures()

    /// Nothing yet.
    public init() {}

    /// How many details of each kind are kept.
    public static let detailLimit = 20

    /// Adds a mismatch and its description (kept while fewer than ``detailLimit``).
    public mutating func addMismatch(_ text: String) {
        mismatches += 1
        if mismatchDetails.count < Self.detailLimit { mismatchDetails.append(text) }
    }

    /// Adds a leak and its description.
    public mutating func addLeak(_ text: String) {
        leaks += 1
        if leakDetails.count < Self.detailLimit { leakDetails.append(text) }
    }

    /// Adds `other`'s counts to these (another worker's totals).
    public mutating func add(_ other: SoakTotals) {
        rounds += other.rounds
        for (backend, count) in other.roundsByBackend { roundsByBackend[backend, default: 0] += count }
        sigbusRounds += other.sigbusRounds
        operations += other.operations
        pageChecks += other.pageChecks
        snapshots += other.snapshots
        faultsInjected += other.faultsInjected
        readFaultsInjected += other.readFaultsInjected
        writeFaultsInjected += other.writeFaultsInjected
        delaysInjected += other.delaysInjected
        readRetries += other.readRetries
        failedReads += other.failedReads
        failedFaults += other.failedFaults
        absorbedSnapshotErrors += other.absorbedSnapshotErrors
        typedErrors += other.typedErrors
        permanentChecks += other.permanentChecks
        missedFreeCopies += other.missedFreeCopies
        swapIns += other.swapIns
        swapOuts += other.swapOuts
        mismatches += other.mismatches
        mismatchDetails += other.mismatchDetails.prefix(max(0, Self.detailLimit - mismatchDetails.count))
        leaks += other.leaks
        leakDetails += other.leakDetails.prefix(max(0, Self.detailLimit - leakDetails.count))
        crashes += other.crashes
        footprint.add(other.footprint)
    }

    /// One line for progress and logs.
    public var summary: String {
        "rounds \(rounds) (sigbus \(sigbusRounds)), ops \(operations), page checks \(pageChecks), "
            + "faults injected \(faultsInjected), retries \(readRetries), permanent checks \(permanentChecks), "
            + "mismatches \(mismatches), leaks \(leaks), crashes \(crashes)"
    }
}

/// The footprints of a soak process after its rounds' teardowns: the baseline (after the
/// first round) and the largest differences seen after any later round.
public struct FootprintFigures: Sendable, Equatable, Codable {
    /// Footprints compared with the baseline.
    public var samples = 0
    /// The baseline's open descriptors, mappings, threads and RSS (KiB).
    public var baselineDescriptors = 0
    /// The baseline's mappings.
    public var baselineMappings = 0
    /// The baseline's threads.
    public var baselineThreads = 0
    /// The baseline's RSS in KiB.
    public var baselineRSSKiB = 0
    /// The largest difference from the baseline after a round, per figure (RSS in KiB).
    public var maxDescriptorDelta = 0
    /// Mappings.
    public var maxMappingDelta = 0
    /// Threads.
    public var maxThreadDelta = 0
    /// RSS in KiB.
    public var maxRSSDeltaKiB = 0
    /// The difference after the last round (RSS in KiB).
    public var lastRSSDeltaKiB = 0
    /// Pool bytes, slots and stored pages found after a teardown (summed; must stay 0).
    public var leftoverBackendUnits = 0

    /// Nothing yet.
    public init() {}

    /// Records `now` against `baseline`.
    mutating func record(_ now: ProcessFootprint, baseline: ProcessFootprint) {
        samples += 1
        baselineDescriptors = baseline.openDescriptors
        baselineMappings = baseline.mappings
        baselineThreads = baseline.threads
        baselineRSSKiB = baseline.residentBytes / 1024
        maxDescriptorDelta = max(maxDescriptorDelta, now.openDescriptors - baseline.openDescriptors)
        maxMappingDelta = max(maxMappingDelta, now.mappings - baseline.mappings)
        maxThreadDelta = max(maxThreadDelta, now.threads - baseline.threads)
        lastRSSDeltaKiB = (now.residentBytes - baseline.residentBytes) / 1024
        maxRSSDeltaKiB = max(maxRSSDeltaKiB, lastRSSDeltaKiB)
    }

    /// Combines another process's figures: the worst differences, the latest baseline.
    mutating func add(_ other: FootprintFigures) {
        leftoverBackendUnits += other.leftoverBackendUnits
        guard other.samples > 0 else { return }
        samples += other.samples
        baselineDescriptors = other.baselineDescriptors
        baselineMappings = other.baselineMappings
        baselineThreads = other.baselineThreads
        baselineRSSKiB = other.baselineRSSKiB
        maxDescriptorDelta = max(maxDescriptorDelta, other.maxDescriptorDelta)
        maxMappingDelta = max(maxMappingDelta, other.maxMappingDelta)
        maxThreadDelta = max(maxThreadDelta, other.maxThreadDelta)
        maxRSSDeltaKiB = max(maxRSSDeltaKiB, other.maxRSSDeltaKiB)
        lastRSSDeltaKiB = other.lastRSSDeltaKiB
    }
}
