import CProcessPager
import PageCodecs
import PageStore
import SecondTier
import Synchronization
import SystemPackage
import SystemSupport
import ZRAM
import ZSwap

/// The maxima of a run, taken every time the pager is sampled.
public struct PagerFigures: Sendable, Equatable {
    /// Most managed pages resident in the tree (plus pages held in scratch areas; a page a fork
    /// shares counted once), in bytes.
    public var residentMaxBytes = 0
    /// Most memory the stores' pools held (mem_used_total summed over chunks), in bytes.
    public var poolMaxBytes = 0
    /// Most of the tree's anonymous memory (a page a fork shares counted once) + the pools + the
    /// pager's uncompressed copies, in bytes.
    public var memoryMaxBytes = 0
    /// Most anonymous memory in the tree that the pager does not manage, in bytes.
    public var unmanagedAnonMaxBytes = 0
    /// Most anonymous memory in the tree (RssAnon summed over its processes), in bytes.
    public var treeAnonMaxBytes = 0
    /// Most anonymous memory of the pager's own process (its pools included), in bytes.
    public var pagerAnonMaxBytes = 0
    /// Most pages held compressed at once (used slots: a slot a fork child shares counts once),
    /// in bytes of uncompressed pages.
    public var swappedMaxBytes = 0
    /// The lowest cap the resident pages had, in bytes.
    public var capMinBytes = Int.max
    /// Samples taken.
    public var samples = 0

    /// No samples yet.
    public init() {}
}

/// The pager of `uswap run`: it takes the userfaultfds that agents in the program's processes
/// hand it, serves their page faults from compressed stores, and keeps the tree's resident
/// memory under a cap by moving cold pages out.
///
/// ```swift
/// var configuration = PagerConfiguration(residentLimitBytes: 80 << 20)
/// let pager = try ProcessPager(configuration)
/// try pager.start()
/// // spawn the program with LD_PRELOAD=libuswap-agent.so:libmimalloc.so.2 and
/// // USWAP_AGENT=\(pager.agentEnvironmentValue()); call pager.sample() every 100 ms
/// pager.stop()
/// print(pager.statistics.swapOuts)
/// ```
///
/// **Threads.** ``start()`` starts two threads: the fault reader and the evictor (see docs/RUN.md).
/// The other methods may be called from any thread.
public final class ProcessPager: @unchecked Sendable {
    // @unchecked Sendable: shared state is in PagerCore (atomics, locks) or behind mutexes.

    /// The configuration the pager was made with.
    public let configuration: PagerConfiguration
    /// Feature bits of the probe userfaultfd (UFFDIO_API).
    public let kernelFeatures: UInt64
    let core: PagerCore
    private let listener: Int32
    private let reader: FaultReader
    private let evictor: Evictor
    private let threads = Mutex<(reader: NativeThread, evictor: NativeThread)?>(nil)
    private let statusProvider = StatusSource()
    private let maxima = Mutex(PagerFigures())
    private let tierProblems = Mutex<[String]>([])

    /// Features the pager needs: write-protect faults, fork/remap/remove/unmap events, MOVE.
    public static let requiredFeatures: UInt64 = 0x1 | 0x2 | 0x4 | 0x8 | 0x40 | (1 << 16)

    /// Why this process cannot make a userfaultfd that serves kernel-mode faults, or nil when
    /// it can (root, CAP_SYS_PTRACE, /dev/userfaultfd, or vm.unprivileged_userfaultfd=1).
    public static func fullUserfaultfdUnavailable() -> PagerError? {
        var features: UInt64 = 0
        let probe = uswap_probe_full_userfaultfd(&features)
        if probe != 0 { return .fullUserfaultfdUnavailable(Errno(rawValue: -probe)) }
        if features & requiredFeatures != requiredFeatures { return .missingFeatures(have: features, need: requiredFeatures) }
        return nil
    }

    /// Makes a pager: checks that a full userfaultfd can be made here, makes the slot space and
    /// listens on the configuration's abstract socket.
    public init(_ configuration: PagerConfiguration) throws(PagerError) {
        if let problem = configuration.problem { throw .invalidConfiguration(problem) }
        if let unavailable = Self.fullUserfaultfdUnavailable() { throw unavailable }
        var features: UInt64 = 0
        _ = uswap_probe_full_userfaultfd(&features)
        kernelFeatures = features
        self.configuration = configuration
        let chunkBytes = SlotSpace.chunkSlots * 4096
        let chunks = max(1, (configuration.maximumSwapBytes + chunkBytes - 1) / chunkBytes)
        let slots = SlotSpace(maximumChunks: chunks, makeStore: Self.storeMaker(configuration))
        if let tier = configuration.tier {
            // A file that holds data or a cluster that is down is refused now, not at the first
            // eviction (where the evictor could only keep pages over the cap).
            do { try slots.makeFirstChunk() } catch { throw .secondTier(tier.description, "\(error)") }
        }
        core = try PagerCore(configuration: configuration, slots: slots)
        let fd = uswap_listen_abstract(configuration.socketName)
        guard fd >= 0 else { throw .socket(name: configuration.socketName, Errno(rawValue: -fd)) }
        listener = fd
        do {
            reader = try FaultReader(core: core)
            evictor = try Evictor(core: core, listener: fd, statusProvider: statusProvider)
        } catch {
            uswap_close(fd)
            throw error
        }
    }

    deinit {
        stop()
        uswap_close(listener)
    }

    /// How the pager makes its chunk stores.
    static func storeMaker(_ configuration: PagerConfiguration) -> @Sendable (Int) throws -> SlotStore {
        let chunkSlots = SlotSpace.chunkSlots
        let codec = configuration.codec
        let memTotal = MemInfo.totalBytes()
        let poolLimit = configuration.writebackPoolLimit
        if let spec = configuration.tier { return tierStoreMaker(configuration, spec: spec) }
        switch configuration.backend {
        case .zram:
            let writeback = configuration.writebackPath
            return { index in
                var zram = ZramConfiguration(disksize: chunkSlots * 4096, codec: codec)
                var file: BackingFile? = nil
                if let writeback {
                    let path = index == 0 ? writeback : "\(writeback).\(index)"
                    let backing = try BackingFile(path: path, blockCount: chunkSlots, options: [.create, .truncate])
                    // Unlinked at once: the file goes with the descriptor, even if uswap is killed.
                    _ = unlink(path)
                    var device = ZramBackingDevice(file: backing, blockCount: chunkSlots)
                    device.punchFreedBlocks = true
                    zram.backingDevice = device
                    let high = poolLimit.bytes(memTotal: memTotal)
                    zram.automaticWriteback = ZramAutomaticWriteback(highWatermark: high, lowWatermark: high / 10 * 9)
                    file = backing
                }
                do {
                    return .zram(try ZramDevice(zram), file.map(ChunkTier.file) ?? .none)
                } catch {
                    file?.close()
                    throw error
                }
            }
        case .zswap(let path):
            return { index in
                let chunkPath = index == 0 ? path : "\(path).\(index)"
                let file = try BackingFile(path: chunkPath, blockCount: chunkSlots, options: [.create, .truncate])
                // Unlinked at once: the file goes with the descriptor, even if uswap is killed.
                _ = unlink(chunkPath)
                var cache = FrontswapConfiguration(slotCount: chunkSlots, poolLimit: poolLimit)
                cache.codec = codec
                do {
                    return .zswap(try FrontswapCache(cache, file: file, memTotal: memTotal), .file(file))
                } catch {
                    file.close()
                    throw error
                }
            }
        case .zswapToTier:
            // PagerConfiguration.problem refuses zswap without a tier before a store is made.
            return { _ in throw PagerError.invalidConfiguration("--backend zswap needs --tier") }
        }
    }

    /// How the pager makes its chunk stores over `--tier`: each chunk opens its own tier with
    /// `OpenedTier.open` (a file at PATH, PATH.1, ... made and unlinked at once, or a cluster
    /// namespace with its own lease) and makes its device or cache write back to it, as
    /// `bench swap --tier` does. Reads of the tier run where the pager's reads of a file tier
    /// run: on the fault reader thread, never in a signal handler; writeback to a tier that may
    /// not be called from a signal handler (a cluster, an encrypted tier) runs on the store's
    /// own writeback thread.
    static func tierStoreMaker(_ configuration: PagerConfiguration, spec: TierSpec) -> @Sendable (Int) throws -> SlotStore {
        let chunkSlots = SlotSpace.chunkSlots
        let codec = configuration.codec
        let memTotal = MemInfo.totalBytes()
        let poolLimit = configuration.writebackPoolLimit
        let backend = configuration.backend
        let replicas = configuration.tierReplicas
        let leaseTTL = configuration.tierLeaseTTLMilliseconds
        let encrypt = configuration.encryptTier
        let existing: ExistingFilePolicy = configuration.replaceExistingTierFile ? .replaceRegularFile : .refuseNonEmpty
        return { index in
            let chunkSpec: TierSpec =
                switch spec {
                case .file(let path): .file(path: index == 0 ? path : "\(path).\(index)")
                case .cluster: spec
                }
            var cache = FrontswapConfiguration(slotCount: chunkSlots, poolLimit: poolLimit)
            cache.codec = codec
            let objects = backend == .zram ? chunkSlots : cache.fileBlockCount
            let tier = try OpenedTier.open(
                chunkSpec, objectCount: objects, replicas: replicas, leaseTTLMilliseconds: leaseTTL, encrypt: encrypt,
                label: "run", existing: existing, fileStyle: .unlinked)
            do {
                if backend == .zram {
                    var zram = ZramConfiguration(disksize: chunkSlots * 4096, codec: codec)
                    tier.configureWriteback(of: &zram, highWatermark: poolLimit.bytes(memTotal: memTotal))
                    return .zram(try ZramDevice(zram), .opened(tier))
                }
                tier.configureWriteback(of: &cache)
                return .zswap(try FrontswapCache(cache, tier: tier.tier, memTotal: memTotal), .opened(tier))
            } catch {
                _ = try? tier.close()
                throw error
            }
        }
    }

    /// Starts the fault reader and the evictor.
    public func start() throws(PagerError) {
        let reader = self.reader
        let evictor = self.evictor
        do {
            let r = try NativeThread.start { reader.run() }
            let e = try NativeThread.start { evictor.run() }
            threads.withLock { $0 = (r, e) }
        } catch {
            core.evictorStopping.store(true, ordering: .releasing)
            core.readerStopping.store(true, ordering: .releasing)
            throw .resource("the pager's threads", error)
        }
    }

    /// The value of USWAP_AGENT for the program: protocol version, socket name, this process's
    /// id, and the agent's flags (tests use ``AgentFlags/denyUserfaultfd``).
    public func agentEnvironmentValue(flags: AgentFlags = []) -> String {
        "\(USWAP_PROTOCOL_VERSION):\(configuration.socketName):\(getpid()):\(String(flags.rawValue, radix: 16))"
    }

    /// Sets the text a `uswap status` client gets (JSON); called on the evictor thread.
    public func setStatusProvider(_ provider: @escaping @Sendable () -> String) {
        statusProvider.set(provider)
    }

    /// Process ids of the sessions alive now (the program's processes that joined).
    public var processIDs: [Int32] { evictorProcessIDs() }

    private func evictorProcessIDs() -> [Int32] { core.processIDs.withLock { Array(Set($0.values)) } }

    /// Samples the tree's memory: updates the cap (limit minus unmanaged anonymous memory, when
    /// charged) and the run's maxima. Call every ``PagerConfiguration/sampleIntervalMilliseconds``.
    @discardableResult
    public func sample() -> PagerFigures {
        let pids = evictorProcessIDs()
        var treeAnon = 0
        var pageTables = 0
        for pid in pids {
            guard let figures = Self.statusBytes(of: pid, fields: ("RssAnon:", "VmPTE:")) else { continue }
            treeAnon += figures.0 ?? 0
            pageTables += figures.1 ?? 0
        }
        let managed = core.usedPages * 4096
        let unmanaged = max(0, treeAnon - managed)
        // Pages a fork left shared are resident in both processes (RssAnon and the sessions'
        // counts take them twice) but in memory once, as a memory cgroup charges them.
        let shared = pids.count > 1 ? Self.sharedAnonymousBytes(of: pids, rssAnon: treeAnon) : 0
        let limit = configuration.residentLimitBytes
        var cap = limit
        if configuration.chargesUnmanagedMemory {
            // The tree's page tables too, which a memory cgroup charges as well.
            cap = max(limit * configuration.minimumManagedPercent / 100, limit - unmanaged - pageTables)
        }
        cap += shared
        core.counters.capPages.store(cap / 4096, ordering: .relaxed)
        if configuration.compactWastePercent > 0 {
            let freed = core.slots.compactIfWasteful(wastePercent: configuration.compactWastePercent)
            if freed > 0 {
                core.counters.compactions.add(1, ordering: .relaxed)
                core.counters.pagesCompacted.add(freed, ordering: .relaxed)
            }
        }
        if configuration.trimsStreamCache {
            let trim = StreamCache.trim(pids: pids)
            core.counters.fileCacheDroppedBytes.add(trim.droppedBytes, ordering: .relaxed)
        }
        let pool = core.slots.statistics.memUsedTotal
        let own = Self.anonymousBytes(of: getpid()) ?? 0
        let copies = (Session.pagesPerHalf + 1) * 4096
        let swapped = core.slots.usedSlots * 4096
        return maxima.withLock { m in
            m.samples += 1
            m.residentMaxBytes = max(m.residentMaxBytes, managed - shared)
            m.poolMaxBytes = max(m.poolMaxBytes, pool)
            m.memoryMaxBytes = max(m.memoryMaxBytes, treeAnon - shared + pool + copies)
            m.unmanagedAnonMaxBytes = max(m.unmanagedAnonMaxBytes, unmanaged)
            m.treeAnonMaxBytes = max(m.treeAnonMaxBytes, treeAnon)
            m.pagerAnonMaxBytes = max(m.pagerAnonMaxBytes, own)
            m.swappedMaxBytes = max(m.swappedMaxBytes, swapped)
            m.capMinBytes = min(m.capMinBytes, cap)
            return m
        }
    }

    /// The maxima sampled so far.
    public var figures: PagerFigures { maxima.withLock { $0 } }

    /// The anonymous memory that processes `pids` (whose RssAnon sums to `rssAnon`) count more
    /// than once, shared after a fork: RssAnon summed minus Pss_Anon summed (smaps_rollup, which
    /// splits a shared page between its users). 0 when a process's figure cannot be read.
    static func sharedAnonymousBytes(of pids: [Int32], rssAnon: Int) -> Int {
        var proportional = 0
        for pid in pids {
            guard let bytes = proportionalAnonymousBytes(of: pid) else { return 0 }
            proportional += bytes
        }
        return max(0, rssAnon - proportional)
    }

    /// A process's Pss_Anon (/proc/PID/smaps_rollup) in bytes, or nil if it cannot be read.
    static func proportionalAnonymousBytes(of pid: Int32) -> Int? {
        procBytes("/proc/\(pid)/smaps_rollup", field: "Pss_Anon:")
    }

    /// `RssAnon` of a process in bytes, or nil when it is gone.
    public static func anonymousBytes(of pid: Int32) -> Int? {
        procBytes("/proc/\(pid)/status", field: "RssAnon:")
    }

    /// Two kB figures of /proc/PID/status (`RssAnon:`, `VmPTE:`) in bytes, from one read; nil
    /// when the process is gone, a field nil when its line is missing.
    static func statusBytes(of pid: Int32, fields: (String, String)) -> (Int?, Int?)? {
        guard let text = try? ProcFile.read("/proc/\(pid)/status") else { return nil }
        return (kilobytes(in: text, field: fields.0), kilobytes(in: text, field: fields.1))
    }

    /// The `field` line's kB figure of a /proc file, in bytes; nil if the file or line is missing.
    private static func procBytes(_ path: String, field: String) -> Int? {
        guard let text = try? ProcFile.read(path) else { return nil }
        return kilobytes(in: text, field: field)
    }

    /// The kB figure of the line of `text` that starts with `field`, in bytes.
    private static func kilobytes(in text: String, field: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix(field) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let kib = Int(fields[1]) { return kib * 1024 }
        }
        return nil
    }

    /// The pager's counters now.
    public var statistics: PagerStatistics {
        let c = core.counters
        var s = PagerStatistics()
        s.residentPages = c.resident.load(ordering: .relaxed)
        s.scratchPages = c.scratch.load(ordering: .relaxed)
        s.capPages = c.capPages.load(ordering: .relaxed)
        s.swapIns = c.swapIns.load(ordering: .relaxed)
        s.swapOuts = c.swapOuts.load(ordering: .relaxed)
        s.zeroFills = c.zeroFills.load(ordering: .relaxed)
        s.zeroEvictions = c.zeroEvictions.load(ordering: .relaxed)
        s.missingFaults = c.missingFaults.load(ordering: .relaxed)
        s.writeProtectFaults = c.writeProtectFaults.load(ordering: .relaxed)
        s.duplicateFaults = c.duplicateFaults.load(ordering: .relaxed)
        s.waitedOnEviction = c.waitedOnEviction.load(ordering: .relaxed)
        s.parkedFaults = c.parkedFaults.load(ordering: .relaxed)
        s.capOverrides = c.overrides.load(ordering: .relaxed)
        s.failedReads = c.failedReads.load(ordering: .relaxed)
        s.failedWrites = c.failedWrites.load(ordering: .relaxed)
        s.unexpectedMissing = c.unexpectedMissing.load(ordering: .relaxed)
        s.lostPages = c.lostPages.load(ordering: .relaxed)
        s.pinnedPages = c.pinnedPages.load(ordering: .relaxed)
        s.sharedPages = c.sharedPages.load(ordering: .relaxed)
        s.unsharedPages = c.unsharedPages.load(ordering: .relaxed)
        s.givenBack = c.givenBack.load(ordering: .relaxed)
        s.secondChances = c.secondChances.load(ordering: .relaxed)
        s.refaults = c.refaults.load(ordering: .relaxed)
        s.removedPages = c.removedPages.load(ordering: .relaxed)
        s.remappedPages = c.remappedPages.load(ordering: .relaxed)
        s.batches = c.batches.load(ordering: .relaxed)
        s.compactions = c.compactions.load(ordering: .relaxed)
        s.sharedSlotReuses = c.sharedSlotReuses.load(ordering: .relaxed)
        s.relativeSlotShares = c.relativeSlotShares.load(ordering: .relaxed)
        s.pagesCompacted = c.pagesCompacted.load(ordering: .relaxed)
        s.fileCacheDroppedBytes = c.fileCacheDroppedBytes.load(ordering: .relaxed)
        s.moveCalls = c.moveCalls.load(ordering: .relaxed)
        s.sessionsStarted = c.sessionsStarted.load(ordering: .relaxed)
        s.sessionsLive = c.sessionsLive.load(ordering: .relaxed)
        s.forks = c.forks.load(ordering: .relaxed)
        s.unannouncedForks = c.unannouncedForks.load(ordering: .relaxed)
        s.pendingBytes = c.pendingBytes.load(ordering: .relaxed)
        let backend = core.slots.statistics
        s.origDataSize = backend.origDataSize
        s.comprDataSize = backend.comprDataSize
        s.memUsedTotal = backend.memUsedTotal
        s.writtenBack = backend.writtenBack
        s.fileReads = backend.fileReads
        s.metadataBytes = core.slots.metadataBytes
        s.usedSlots = core.slots.usedSlots
        let latency = core.latency.summary()
        s.p50Us = latency.p50
        s.p99Us = latency.p99
        s.p999Us = latency.p999
        s.latencySamples = latency.count
        return s
    }

    /// Stops the threads (sessions still alive end: their agents see the pager go and end their
    /// processes) and lets the stores go. Safe to call more than once.
    public func stop() {
        statusProvider.clear()
        let running = threads.withLock { threads in
            defer { threads = nil }
            return threads
        }
        // The evictor ends first. Until it has, it may still change a session's resident count
        // (a batch's EVICT_DONE read late: its moved pages leave the count), and the reader, whose
        // end takes each session's count off the total, would miss that change: the total would
        // stay off by a batch. The reader serves on meanwhile (a give-back waits for it to read
        // an event).
        core.evictorStopping.store(true, ordering: .releasing)
        core.toEvictor.nudge()
        running?.evictor.join()
        core.readerStopping.store(true, ordering: .releasing)
        core.toReader.nudge()
        running?.reader.join()
        // Commands nobody read any more may hold sessions: let them go, so every session's
        // slots are freed now.
        _ = core.toReader.drain()
        _ = core.toEvictor.drain()
        let problems = core.slots.closeTiers()
        if !problems.isEmpty { tierProblems.withLock { $0 += problems } }
    }

    /// What the second tier's close could not clean up (keys left on a cluster node that was
    /// down), after ``stop()``.
    public var tierCloseProblems: [String] { tierProblems.withLock { $0 } }

    /// The second tier, if the stores have one: each chunk's tier named (`--tier`, `--writeback`
    /// or `zswap:FILE`), and its counters summed over the chunks.
    public var tierFigures: RunReport.TierFigures? {
        guard let statistics = core.slots.tierStatistics else { return nil }
        let backend = core.slots.statistics
        return RunReport.TierFigures(
            name: core.slots.tierLabels.joined(separator: "; "), writtenBack: backend.writtenBack, tierReads: backend.fileReads,
            statistics: statistics, closeProblems: tierCloseProblems)
    }
}

/// Flags the pager passes to its agents in USWAP_AGENT.
public struct AgentFlags: OptionSet, Sendable {
    /// The raw bits.
    public var rawValue: UInt32
    /// Flags from raw bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Tests: the agent behaves as if a full userfaultfd were refused.
    public static let denyUserfaultfd = AgentFlags(rawValue: USWAP_AGENT_FLAG_DENY_UFFD)
}
