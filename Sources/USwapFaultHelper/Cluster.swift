// The cluster scenarios: a swap region over a FrontswapCache that writes back to a real Redis
// Cluster (RedisTier), whose nodes this helper stops and continues itself (SIGSTOP / SIGCONT of
// the pids it is given), so that what happens in the region while they are stopped is seen from
// inside: reads that retry, a fault that fails with SIGBUS, writeback that stops and resumes.
import ArgumentParser
import PageStore
import RedisTier
@_spi(Testing) import Swap
import Synchronization
import SystemSupport
import Workloads
import ZSwap

/// The cluster, the region's size and the nodes to stop.
struct ClusterOptions: ParsableArguments {
    @Option(help: "The cluster: redis://HOST:PORT[,HOST:PORT...].")
    var cluster: String

    @Option(help: "Process ids of the redis-server nodes to stop, comma-separated.")
    var stop: String

    @Option(help: "Region size in MiB.")
    var sizeMib = 16

    @Option(help: "Resident limit in MiB.")
    var residentMib = 1

    @Option(help: "The frontswap pool's limit in MiB (the rest goes to the cluster).")
    var poolMib = 1

    @Option(help: "The region's retries of a failed read (default: the library's); each read of the cluster tier retries for its own window first.")
    var readRetries: Int?

    /// The pids of `--stop`.
    func pids() throws(ExitCode) -> [pid_t] {
        let pids = stop.split(separator: ",").compactMap { pid_t($0) }
        guard !pids.isEmpty, pids.allSatisfy({ $0 > 0 }) else { throw setupFailed("--stop \(stop): give the nodes' pids") }
        return pids
    }
}

/// A region over a FrontswapCache over a RedisTier, and how to take them down.
///
/// The tier's time limits are the tests' (`LocalCluster.configuration()`): 1 s for I/O and
/// connects, WAIT 500 ms for 1 replica; its read retry window is the library's (twice the
/// cluster's node timeout plus 2 s).
final class ClusterStack {
    let tier: RedisTier
    let cache: FrontswapCache
    let region: SwapRegion
    let pages: Int
    let pageSize = 4096

    init(_ options: ClusterOptions, region regionOptions: RegionOptions) throws(ExitCode) {
        tier = try openClusterTier(options.cluster) {
            $0.ioTimeoutMilliseconds = 1000
            $0.connectTimeoutMilliseconds = 1000
            $0.waitTimeoutMilliseconds = 500
        }
        let size = options.sizeMib << 20
        pages = size / pageSize
        // As `uswap bench swap --backend zswap --tier redis://...` makes it.
        var cacheConfiguration = FrontswapConfiguration(slotCount: pages, poolLimit: .bytes(options.poolMib << 20))
        cacheConfiguration.punchFreedBlocks = false
        cacheConfiguration.limitPolicy = .rejectNewest
        cacheConfiguration.writebackBatch = 256
        do { cache = try FrontswapCache(cacheConfiguration, tier: tier) } catch {
            try? tier.close()
            throw setupFailed("the cache: \(error)")
        }
        do {
            let retries = options.readRetries
            region = try regionOptions.makeRegion(SwapRegionConfiguration(size: size, residentLimit: options.residentMib << 20), backend: cache) {
                if let retries { $0.readRetries = retries }
            }
        } catch {
            cache.stopTierWriteback()
            try? tier.close()
            throw error
        }
    }

    /// Waits up to `seconds` until the pool is at most its limit with pages in the cluster.
    func waitForWriteback(seconds: Double) -> Bool {
        let deadline = MonotonicClock.seconds() + seconds
        while MonotonicClock.seconds() < deadline {
            let s = cache.frontswapStatistics
            if s.pagesInFile > 0 && s.poolTotalSize <= s.poolLimit { return true }
            sleepMicroseconds(20 * 1000)
        }
        return false
    }

    /// Pages whose version is not `versions[p]`.
    func badPages(_ versions: UnsafeMutablePointer<UInt32>, _ range: Range<Int>) -> Int {
        range.reduce(0) { $0 + (VersionedPage.verify(region.baseAddress, page: $1, version: versions[$1], pageSize: pageSize) ? 0 : 1) }
    }

    /// `name=value` fields of the tier's counters.
    var tierFields: String {
        let s = tier.statistics
        return "tier_reads=\(s.tier.reads) read_retries=\(s.readRetries) replica_reads=\(s.replicaReads) "
            + "tier_failed_reads=\(s.tier.failedReads) acknowledged=\(s.tier.acknowledgedWrites) refused=\(s.tier.refusedWrites) "
            + "tier_frees=\(s.tier.frees) read_window_ms=\(tier.readRetryMilliseconds)"
    }

    /// Closes the region, stops the writeback thread and closes the tier (its close sweep deletes
    /// every key of the run); prints `closed: ...`.
    func close() {
        region.close()
        cache.stopTierWriteback()
        do {
            try tier.close()
            say("closed: ok")
        } catch {
            say("closed: problem=\"\(error)\"")
        }
    }
}

/// A cluster tier for `url` with the library's settings (`uswap bench swap --tier redis://...`),
/// changed by `configure`.
func openClusterTier(
    _ url: String, configure: (inout RedisTierConfiguration) -> Void = { _ in }
) throws(ExitCode) -> RedisTier {
    var configuration: RedisTierConfiguration
    do { configuration = try RedisTierConfiguration(url: url) } catch { throw setupFailed("--cluster: \(error)") }
    configuration.label = "helper"
    configure(&configuration)
    do { return try RedisTier(configuration) } catch { throw setupFailed("the cluster tier: \(error)") }
}

// MARK: cluster-stop-node

struct ClusterStopNode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster-stop-node",
        abstract: "Threads touch a region over a cluster tier while the --stop nodes are SIGSTOPped for --stop-ms; every page verifies.")

    @OptionGroup var region: RegionOptions
    @OptionGroup var options: ClusterOptions

    @Option(help: "How long the nodes stay stopped, in milliseconds.")
    var stopMs = 3000

    @Option(help: "Application threads, each on its own pages.")
    var threads = 2

    @Option(help: "Percent of touches that rewrite the page.")
    var writePct = 20

    func run() throws {
        let pids = try options.pids()
        let stack = try ClusterStack(options, region: region)
        let pages = stack.pages
        let versions = UnsafeMutablePointer<UInt32>.allocate(capacity: pages)
        defer { versions.deallocate() }
        versions.initialize(repeating: 1, count: pages)
        for p in 0..<pages { VersionedPage.fill(stack.region.baseAddress, page: p, version: 1, pageSize: stack.pageSize) }
        let drained = stack.waitForWriteback(seconds: 20)
        let filled = stack.cache.frontswapStatistics
        say("filled: pages=\(pages) in_tier=\(filled.pagesInFile) drained=\(drained ? 1 : 0) pool_bytes=\(filled.poolTotalSize) pool_limit=\(filled.poolLimit)")

        final class Shared: @unchecked Sendable {
            // @unchecked Sendable: each thread touches only its own pages (p % threads == t) and
            // its own entries of `versions`, `bad` and `touches`; the counts are read after every
            // join; `stop` is atomic.
            let stack: ClusterStack
            let versions: UnsafeMutablePointer<UInt32>
            let bad: UnsafeMutablePointer<Int>
            let touches: UnsafeMutablePointer<Int>
            let stop = Atomic<Bool>(false)
            init(stack: ClusterStack, versions: UnsafeMutablePointer<UInt32>, threads: Int) {
                self.stack = stack
                self.versions = versions
                bad = .allocate(capacity: threads)
                bad.initialize(repeating: 0, count: threads)
                touches = .allocate(capacity: threads)
                touches.initialize(repeating: 0, count: threads)
            }
            deinit {
                bad.deallocate()
                touches.deallocate()
            }
        }
        let shared = Shared(stack: stack, versions: versions, threads: threads)
        let (threads, writePct, pageSize) = (threads, writePct, stack.pageSize)
        var workers: [NativeThread] = []
        for t in 0..<threads {
            do {
                workers.append(try NativeThread.start {
                    var random = XorShift64(seed: 0x2545_F491_4F6C_DD1D &+ UInt64(t) &* 0x9E37_79B9)
                    let mine = (pages - t + threads - 1) / threads
                    var (bad, touches) = (0, 0)
                    while !shared.stop.load(ordering: .relaxed) {
                        let x = random.next()
                        let p = Int(x % UInt64(mine)) * threads + t
                        let v = shared.versions[p]
                        if !VersionedPage.verify(shared.stack.region.baseAddress, page: p, version: v, pageSize: pageSize) { bad += 1 }
                        if Int((x >> 32) % 100) < writePct {
                            shared.versions[p] = v &+ 1
                            VersionedPage.fill(shared.stack.region.baseAddress, page: p, version: v &+ 1, pageSize: pageSize)
                        }
                        touches += 1
                    }
                    shared.bad[t] = bad
                    shared.touches[t] = touches
                })
            } catch {
                shared.stop.store(true, ordering: .relaxed)
                for worker in workers { worker.join() }
                throw setupFailed("cannot start a thread: \(error)")
            }
        }
        sleepMicroseconds(300 * 1000)
        let before = stack.tier.statistics
        for pid in pids { kill(pid, SIGSTOP) }
        let stoppedAt = MonotonicClock.seconds()
        sleepMicroseconds(stopMs * 1000)
        let during = stack.tier.statistics
        for pid in pids { kill(pid, SIGCONT) }
        let stoppedSeconds = MonotonicClock.seconds() - stoppedAt
        sleepMicroseconds(1000 * 1000)
        shared.stop.store(true, ordering: .relaxed)
        for worker in workers { worker.join() }
        let touchBad = (0..<threads).reduce(0) { $0 + shared.bad[$1] }
        let touches = (0..<threads).reduce(0) { $0 + shared.touches[$1] }
        say("stopped: nodes=\(pids.count) ms=\(Int(stoppedSeconds * 1000)) tier_reads_during=\(during.tier.reads - before.tier.reads) "
            + "retries_during=\(during.readRetries - before.readRetries) replica_reads_during=\(during.replicaReads - before.replicaReads) touches=\(touches)")
        // Every page, in its latest version.
        let bad = touchBad + stack.badPages(versions, 0..<pages)
        let s = stack.region.statistics
        say("after: bad=\(bad) failed_faults=\(s.failedFaults) failed_reads=\(s.failedReads) swap_ins=\(s.swapIns) "
            + "stored_over_limit=\(stack.cache.frontswapStatistics.storedOverLimit) \(stack.tierFields)")
        stack.close()
        if bad != 0 { throw ExitCode(1) }
    }
}

// MARK: cluster-partition

/// What the `cluster-partition` SIGBUS handler reports and whom it continues.
nonisolated(unsafe) var partitionStack: ClusterStack?
nonisolated(unsafe) var partitionPids: UnsafeMutablePointer<pid_t>?
nonisolated(unsafe) var partitionPidCount = 0
nonisolated(unsafe) var partitionPage = 0
nonisolated(unsafe) var partitionSlot = 0
nonisolated(unsafe) var partitionHandle: UInt64 = 0
nonisolated(unsafe) var partitionTouchStart = 0
nonisolated(unsafe) var partitionSigbuses = 0

/// The `cluster-partition` SIGBUS handler: the first SIGBUS (the touched page's read failed
/// after the tier's retries) reports the state, continues every stopped node and returns, so
/// that the access is retried against the cluster that is back; a second one dies.
/// Formatting allocates; as in ``reportAndDie(_:_:_:)``, the interrupted code is this helper's
/// own load from the region. `kill` is async-signal-safe.
func partitionSIGBUS(_ signal: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _ context: UnsafeMutableRawPointer?) {
    partitionSigbuses += 1
    let waited = (MonotonicClock.nanoseconds() - partitionTouchStart) / 1_000_000
    let address = info.map { UInt(bitPattern: $0.pointee._sifields._sigfault.si_addr) } ?? 0
    guard partitionSigbuses == 1, let stack = partitionStack else {
        say("sigbus-again: addr=0x\(String(address, radix: 16)) count=\(partitionSigbuses) waited_ms=\(waited)")
        FatalSignal.endByDefaultAction(SIGBUS)
        return
    }
    let expected = UInt(bitPattern: stack.region.baseAddress) + UInt(partitionPage * stack.pageSize)
    let s = stack.region.statistics
    say("sigbus: in_page=\(address == expected ? 1 : 0) waited_ms=\(waited) failed_faults=\(s.failedFaults) failed_reads=\(s.failedReads) "
        + "still_swapped=\(stack.region.swapSlot(ofPage: partitionPage) == partitionSlot ? 1 : 0) "
        + "location=\(stack.cache.location(of: partitionSlot)) "
        + "same_handle=\(stack.cache.tierHandle(of: partitionSlot)?.rawValue == partitionHandle ? 1 : 0) \(stack.tierFields)")
    if let pids = partitionPids {
        for i in 0..<partitionPidCount { kill(pids[i], SIGCONT) }
    }
}

struct ClusterPartition: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster-partition",
        abstract: "Stops every --stop node; fills more pages (writeback stops), touches a page only the cluster holds (SIGBUS), continues the nodes in the SIGBUS handler; writeback resumes; every page verifies.")

    @OptionGroup var region: RegionOptions
    @OptionGroup var options: ClusterOptions

    func run() throws {
        let pids = try options.pids()
        // Before the region, which forwards a fault it cannot serve to this handler.
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = { partitionSIGBUS($0, $1, $2) }
        action.sa_flags = SA_SIGINFO
        sigemptyset(&action.sa_mask)
        sigaction(SIGBUS, &action, nil)

        let stack = try ClusterStack(options, region: region)
        let pages = stack.pages
        let half = pages / 2
        let versions = UnsafeMutablePointer<UInt32>.allocate(capacity: pages)
        defer { versions.deallocate() }
        versions.initialize(repeating: 1, count: pages)
        for p in 0..<half { VersionedPage.fill(stack.region.baseAddress, page: p, version: 1, pageSize: stack.pageSize) }
        guard stack.waitForWriteback(seconds: 20) else { throw setupFailed("the pool did not drain to the cluster in 20 s") }
        // A page whose only copy is in the cluster.
        guard let (page, slot) = (0..<half).lazy.compactMap({ p -> (Int, Int)? in
            guard let s = stack.region.swapSlot(ofPage: p), stack.cache.location(of: s) == .file else { return nil }
            return (p, s)
        }).first, let handle = stack.cache.tierHandle(of: slot) else {
            throw setupFailed("no page went to the cluster (pool too large?)")
        }
        say("filled: pages=\(half) in_tier=\(stack.cache.frontswapStatistics.pagesInFile) page=\(page) slot=\(slot) location=\(stack.cache.location(of: slot))")

        // The partition: every node stopped. Writes in flight end within the I/O timeout.
        for pid in pids { kill(pid, SIGSTOP) }
        sleepMicroseconds(1500 * 1000)
        let before = stack.tier.statistics
        let cacheBefore = stack.cache.frontswapStatistics
        // New pages push others into the pool, past its limit: writeback is refused.
        let filledAt = MonotonicClock.seconds()
        for p in half..<pages { VersionedPage.fill(stack.region.baseAddress, page: p, version: 1, pageSize: stack.pageSize) }
        // The writeback thread's next write to the stopped nodes ends refused (after the I/O timeout).
        while stack.cache.frontswapStatistics.tierRefused == cacheBefore.tierRefused && MonotonicClock.seconds() - filledAt < 20 {
            sleepMicroseconds(20 * 1000)
        }
        let refusedAfter = MonotonicClock.seconds() - filledAt
        let during = stack.tier.statistics
        let cacheDuring = stack.cache.frontswapStatistics
        say("partitioned: refused_after_ms=\(Int(refusedAfter * 1000)) acknowledged_before=\(before.tier.acknowledgedWrites) acknowledged_during=\(during.tier.acknowledgedWrites) "
            + "refused_during=\(during.tier.refusedWrites - before.tier.refusedWrites) "
            + "tier_refused=\(cacheDuring.tierRefused - cacheBefore.tierRefused) stored_over_limit=\(cacheDuring.storedOverLimit - cacheBefore.storedOverLimit) "
            + "pool_bytes=\(cacheDuring.poolTotalSize) pool_limit=\(cacheDuring.poolLimit)")

        // The touch: its read fails after the retries (SIGBUS), the handler continues the nodes.
        let pidBuffer = UnsafeMutablePointer<pid_t>.allocate(capacity: pids.count)
        defer { pidBuffer.deallocate() }
        pidBuffer.initialize(from: pids, count: pids.count)
        partitionStack = stack
        partitionPids = pidBuffer
        partitionPidCount = pids.count
        partitionPage = page
        partitionSlot = slot
        partitionHandle = handle.rawValue
        partitionTouchStart = MonotonicClock.nanoseconds()
        let ok = VersionedPage.verify(stack.region.baseAddress, page: page, version: 1, pageSize: stack.pageSize)
        let touchMs = (MonotonicClock.nanoseconds() - partitionTouchStart) / 1_000_000
        partitionStack = nil
        say("touched: value=\(ok ? "ok" : "wrong") sigbuses=\(partitionSigbuses) ms=\(touchMs)")
        if partitionSigbuses == 0 { for pid in pids { kill(pid, SIGCONT) } }

        // Writeback resumes: acknowledged writes again, the pool back under its limit.
        let resumeStart = MonotonicClock.seconds()
        var resumed = false
        while MonotonicClock.seconds() - resumeStart < 30 {
            let s = stack.cache.frontswapStatistics
            if stack.tier.statistics.tier.acknowledgedWrites > during.tier.acknowledgedWrites && s.poolTotalSize <= s.poolLimit {
                resumed = true
                break
            }
            sleepMicroseconds(50 * 1000)
        }
        let cacheAfter = stack.cache.frontswapStatistics
        say("resumed: ok=\(resumed ? 1 : 0) seconds=\(twoDecimals(MonotonicClock.seconds() - resumeStart)) "
            + "acknowledged=\(stack.tier.statistics.tier.acknowledgedWrites) pool_bytes=\(cacheAfter.poolTotalSize) pool_limit=\(cacheAfter.poolLimit)")

        let bad = stack.badPages(versions, 0..<pages)
        let s = stack.region.statistics
        say("after: bad=\(bad) failed_faults=\(s.failedFaults) failed_reads=\(s.failedReads) swap_ins=\(s.swapIns) \(stack.tierFields)")
        stack.close()
        if bad != 0 || !ok { throw ExitCode(1) }
    }
}
