// USwapFaultHelper: scenarios for SwapTests that must run in a process of their own (their
// outcome may be a death by a signal, or they count the process's descriptors and mappings,
// and fork is unsafe in a multithreaded test runner), and a small file-tier benchmark.
//
// Usage: USwapFaultHelper SCENARIO [options] (`--help` on each). Prints what it did on stdout,
// written straight to the descriptor so that nothing is lost when the process dies of a signal.
// Exits 0 on success, 1 on a verification failure, 2 on a setup failure, 64 on bad usage.
//
//   fail-read         A page in the file tier whose reads fail; the helper touches it.
//     prints  "before: page=P slot=S location=file held=1 failed_reads=0"
//     then either dies of SIGBUS (reads kept failing: retries exhausted) or prints
//             "after: value=ok retries=.. failed_reads=.. slot_freed=1" and exits 0.
//     With --recover its own SIGBUS handler lets the disk recover at the first SIGBUS and
//     returns: the access is retried ("sigbus: ..." then "after: ..."); a second SIGBUS on the
//     same access ("sigbus-again: ...") means the page stayed poisoned, and the helper dies.
//   bench-file-reads  Random touches over a region whose swapped pages mostly live in a file
//                     (or, with --cluster, in a Redis Cluster);
//                     prints one line of key=value figures; exits 1 when a page fails to verify.
//   failed-setup      Makes region setups fail at a chosen step and prints the process's
//                     descriptors, mappings, threads and SIGBUS action before and after.
//   array-index       Reads one element of a SwapArray (a bad index traps).
//   defaults          Prints the region defaults that depend on the CPUs the process may use.
//   cluster-stop-node A region over a Redis Cluster tier (Cluster.swift); threads touch it while
//                     the --stop nodes are SIGSTOPped for a few seconds; prints "stopped: ...",
//                     "after: bad=.. ..." and "closed: ..."; exits 1 when a page fails to verify.
//   cluster-partition Every node stopped: writeback stops ("partitioned: ..."), a fault on a page
//                     only the cluster holds gets SIGBUS ("sigbus: ..."; the handler continues the
//                     nodes and returns, so the access is retried: "touched: value=ok ..."), then
//                     writeback resumes ("resumed: ...") and every page verifies ("after: ...").
import ArgumentParser
import PageStore
import RedisTier
@_spi(Testing) import Swap
import SystemSupport
import Workloads
import ZRAM
import ZSwap

/// Writes `text` and a newline straight to standard output (no buffering: the process may die
/// of a signal right after).
func say(_ text: String) {
    let line = text + "\n"
    _ = line.withCString { Platform.write(1, $0, strlen($0)) }
}

/// A setup failure: says why on standard error and exits with status 2.
func setupFailed(_ text: String) -> ExitCode {
    let line = "USwapFaultHelper: \(text)\n"
    _ = line.withCString { Platform.write(2, $0, strlen($0)) }
    return ExitCode(2)
}

extension SwapRegionConfiguration.FaultMode: ExpressibleByArgument {}

extension SwapRegionConfiguration.FileReads: ExpressibleByArgument {
    /// `inline` or `io-threads:N`.
    public init?(argument: String) { self.init(argument) }
}

extension SwapRegion.SetupFault: ExpressibleByArgument {}

/// How the scenarios' regions serve faults and read the file tier.
struct RegionOptions: ParsableArguments {
    @Option(help: "Who serves faults: signal or handler-thread.")
    var mode: SwapRegionConfiguration.FaultMode = .signal

    @Option(help: "Who reads the file tier: inline or io-threads:N.")
    var reads: SwapRegionConfiguration.FileReads = .inline

    /// A region configured as these options say, evicting in the fault path (the scenarios
    /// count each eviction and swap-in, which a background reclaimer would add to); `adjust`
    /// sets the rest.
    func makeRegion(
        _ configuration: SwapRegionConfiguration, backend: any SwapBackend,
        adjust: (inout SwapRegionConfiguration) -> Void = { _ in }
    ) throws(ExitCode) -> SwapRegion {
        var configuration = configuration
        configuration.faultMode = mode
        configuration.fileReads = reads
        configuration.reclaimMode = .inFault
        adjust(&configuration)
        do { return try SwapRegion(configuration, backend: backend) } catch { throw setupFailed("cannot make the region: \(error)") }
    }
}

/// A frontswap cache of `slotCount` slots over `file`, whose pool holds `poolBytes`.
func makeCache(slotCount: Int, poolBytes: Int, checksums: Bool = false, file: any PageFile) throws(ExitCode) -> FrontswapCache {
    var configuration = FrontswapConfiguration(slotCount: slotCount, poolLimit: .bytes(poolBytes))
    configuration.checksums = checksums
    do { return try FrontswapCache(configuration, file: file) } catch { throw setupFailed("cannot make the cache: \(error)") }
}

/// A temporary backing file whose path is unlinked at once, so that nothing is left behind
/// even when the process dies of a signal.
func unlinkedFile(in directory: String, blocks: Int, uncached: Bool) throws(ExitCode) -> BackingFile {
    do {
        let file = try BackingFile.temporary(
            in: directory, prefix: "uswap-helper", blockCount: blocks, options: uncached ? [.uncached] : [])
        _ = unlink(file.path)
        return file
    } catch {
        throw setupFailed("cannot make a backing file in \(directory): \(error)")
    }
}

/// `value` with two decimals.
func twoDecimals(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100)." + (fraction < 10 ? "0\(fraction)" : "\(fraction)")
}

// MARK: fail-read

/// What the SIGBUS handler of `--own-handler` reports from.
nonisolated(unsafe) var watchedRegion: SwapRegion?
nonisolated(unsafe) var watchedCache: FrontswapCache?
nonisolated(unsafe) var watchedFile: FaultInjectingBackingFile?
nonisolated(unsafe) var watchedPage = 0
nonisolated(unsafe) var watchedSlot = 0

/// Reports the state after the failed fault, then dies of SIGBUS with the default action.
///
/// Formatting strings allocates, which a signal handler may not do in general; here the
/// interrupted instruction is this helper's own load from the region (never inside malloc),
/// and the process ends right after, so it is safe in this helper.
func reportAndDie(_ signal: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _ context: UnsafeMutableRawPointer?) {
    let address = info.map { UInt(bitPattern: $0.pointee._sifields._sigfault.si_addr) } ?? 0
    var line = "sigbus: addr=0x\(String(address, radix: 16))"
    if let region = watchedRegion, let cache = watchedCache, let file = watchedFile {
        let s = region.statistics
        let expected = UInt(bitPattern: region.baseAddress) + UInt(watchedPage * region.pageSize)
        line += " in_page=\(address == expected ? 1 : 0)"
        line += " failed_reads=\(s.failedReads) retries=\(s.readRetries) failed_faults=\(s.failedFaults)"
        line += " backend_failed_reads=\(cache.frontswapStatistics.failedReads)"
        line += " injected=\(file.injectedFaults(.read))"
        line += " still_swapped=\(region.swapSlot(ofPage: watchedPage) == watchedSlot ? 1 : 0)"
        line += " location=\(cache.location(of: watchedSlot))"
        line += " swap_ins=\(s.swapIns) notify_free=\(s.notifyFree)"
    }
    say(line)
    FatalSignal.endByDefaultAction(SIGBUS)
}

/// SIGBUSes the `--recover` handler has seen.
nonisolated(unsafe) var sigbusCount = 0

/// The `--recover` handler: the first SIGBUS makes the disk recover and returns (the access is
/// retried: it must now succeed); a second one reports that the page stayed poisoned and dies.
/// Formatting allocates; as in ``reportAndDie(_:_:_:)``, the interrupted code is this helper's
/// own load from the region.
func recoverOnce(_ signal: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _ context: UnsafeMutableRawPointer?) {
    sigbusCount += 1
    let code = info?.pointee.si_code ?? 0
    let address = info.map { UInt(bitPattern: $0.pointee._sifields._sigfault.si_addr) } ?? 0
    if sigbusCount > 1 {
        say("sigbus-again: addr=0x\(String(address, radix: 16)) code=\(code) count=\(sigbusCount)")
        FatalSignal.endByDefaultAction(SIGBUS)
        return
    }
    var line = "sigbus: addr=0x\(String(address, radix: 16)) code=\(code)"
    if let region = watchedRegion {
        let s = region.statistics
        line += " failed_faults=\(s.failedFaults) poisoned_faults=\(s.poisonedFaults) still_swapped=\(region.swapSlot(ofPage: watchedPage) == watchedSlot ? 1 : 0)"
    }
    say(line)
    watchedFile?.clearFaults()
}

struct FailRead: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fail-read", abstract: "Touch a page in the file tier whose reads fail.")

    @OptionGroup var region: RegionOptions

    @Option(help: "Retries after a failed read.")
    var retries = 2

    @Option(help: "How many reads fail: a number, or permanent.")
    var failures = "permanent"

    @Flag(help: "Install a SIGBUS handler before the region: it reports the state after the failure, then dies of SIGBUS.")
    var ownHandler = false

    @Flag(help: "Install a SIGBUS handler before the region that lets the disk recover at the first SIGBUS and returns, so that the access is retried.")
    var recover = false

    @Option(help: "Where the backing file goes.")
    var dir = "/tmp"

    mutating func validate() throws {
        if failures != "permanent" && Int(failures) == nil {
            throw ValidationError("--failures \(failures): a number or permanent")
        }
        if ownHandler && recover { throw ValidationError("--own-handler and --recover each install a SIGBUS handler: give one") }
    }

    func run() throws {
        let pages = 64
        let pageSize = 4096
        if ownHandler || recover {
            var action = sigaction()
            if recover {
                action.__sigaction_handler.sa_sigaction = { recoverOnce($0, $1, $2) }
            } else {
                action.__sigaction_handler.sa_sigaction = { reportAndDie($0, $1, $2) }
            }
            action.sa_flags = SA_SIGINFO
            sigemptyset(&action.sa_mask)
            sigaction(SIGBUS, &action, nil)
        }
        let base = try unlinkedFile(in: dir, blocks: pages * 2, uncached: false)
        let file = FaultInjectingBackingFile(wrapping: base)
        let cache = try makeCache(slotCount: pages * 2, poolBytes: 4 * pageSize, checksums: true, file: file)
        let retries = retries
        let region = try region.makeRegion(
            SwapRegionConfiguration(size: pages * pageSize, residentLimit: 16 * pageSize, policy: .freeOnSwapIn), backend: cache
        ) {
            $0.readRetries = retries
            $0.readRetryPauseMicroseconds = 100
        }
        let configuration = region.configuration
        for p in 0..<pages { VersionedPage.fill(region.baseAddress, page: p, version: 1, pageSize: pageSize) }
        // A page whose copy is in the file.
        guard let (page, slot) = (0..<pages).lazy.compactMap({ p -> (Int, Int)? in
            guard let s = region.swapSlot(ofPage: p), cache.location(of: s) == .file else { return nil }
            return (p, s)
        }).first else {
            throw setupFailed("no page went to the file (pool too large?)")
        }
        watchedRegion = region
        watchedCache = cache
        watchedFile = file
        watchedPage = page
        watchedSlot = slot
        if let times = Int(failures) {
            file.inject(.error(errno: EIO), on: .read, when: .block(slot), times: times)
        } else {
            file.inject(.error(errno: EIO), on: .read, when: .block(slot))
        }
        let s = region.statistics
        say("before: page=\(page) slot=\(slot) location=\(cache.location(of: slot)) held=\(region.swapSlot(ofPage: page) == slot ? 1 : 0) failed_reads=\(s.failedReads) mode=\(configuration.faultMode.rawValue) reads=\(configuration.fileReads)")
        // The touch: SIGBUS here when the reads keep failing.
        let ok = VersionedPage.verify(region.baseAddress, page: page, version: 1, pageSize: pageSize)
        let after = region.statistics
        say("after: value=\(ok ? "ok" : "wrong") retries=\(after.readRetries) failed_reads=\(after.failedReads) failed_faults=\(after.failedFaults) slot_freed=\(cache.location(of: slot) == .empty ? 1 : 0) file_reads=\(after.fileReads) inline_file_reads=\(after.inlineFileReads) sigbuses=\(sigbusCount) poisoned_faults=\(after.poisonedFaults) poisons_cleared=\(after.poisonsCleared) swap_ins=\(after.swapIns)")
        region.close()
        base.close()
        if !ok { throw ExitCode(1) }
    }
}

// MARK: bench-file-reads

struct BenchFileReads: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-file-reads", abstract: "Random touches over a region whose swapped pages mostly live in a file.")

    @OptionGroup var region: RegionOptions

    @Option(help: "Region size in MiB.")
    var sizeMib = 256

    @Option(help: "Resident limit in MiB.")
    var residentMib = 64

    @Option(help: "The frontswap pool's limit in MiB (the rest goes to the file).")
    var poolMib = 8

    @Option(help: "Page touches, over all threads.")
    var touches = 200_000

    @Option(help: "Percent of touches that rewrite the page.")
    var writePct = 20

    @Option(help: "Application threads, each on its own pages.")
    var threads = 1

    @Option(help: "Where the backing file goes.")
    var dir = "/var/tmp"

    @Flag(help: "Open the backing file with O_DIRECT.")
    var uncached = false

    @Option(help: "A Redis Cluster redis://HOST:PORT[,...] as the second tier instead of the file (give --reads io-threads:N); its keys are deleted at the end.")
    var cluster: String?

    mutating func validate() throws {
        guard sizeMib > 0, residentMib > 0, poolMib > 0, touches > 0, threads > 0, (0...100).contains(writePct) else {
            throw ValidationError("sizes, touches and threads must be positive, --write-pct 0...100")
        }
    }

    func run() throws {
        let pageSize = 4096
        let size = sizeMib << 20
        let pages = size / pageSize
        let slots = pages + pages / 4
        let cache: FrontswapCache
        let tier: RedisTier?
        let base: BackingFile?
        if let cluster {
            (tier, base) = (try openClusterTier(cluster), nil)
            var configuration = FrontswapConfiguration(slotCount: slots, poolLimit: .bytes(poolMib << 20))
            configuration.punchFreedBlocks = false
            configuration.writebackBatch = 256  // as `uswap bench swap --tier redis://...`
            do { cache = try FrontswapCache(configuration, tier: tier!) } catch { throw setupFailed("the cache: \(error)") }
        } else {
            (tier, base) = (nil, try unlinkedFile(in: dir, blocks: slots, uncached: uncached))
            cache = try makeCache(slotCount: slots, poolBytes: poolMib << 20, file: base!)
        }
        defer {
            cache.stopTierWriteback()
            do { try tier?.close() } catch { say("closing the cluster tier: \(error)") }
            base?.close()
        }
        let region = try region.makeRegion(SwapRegionConfiguration(size: size, residentLimit: residentMib << 20), backend: cache)
        let configuration = region.configuration
        defer { region.close() }
        let versions = UnsafeMutablePointer<UInt32>.allocate(capacity: pages)
        defer { versions.deallocate() }
        versions.initialize(repeating: 1, count: pages)
        let fillStart = MonotonicClock.seconds()
        for p in 0..<pages { VersionedPage.fill(region.baseAddress, page: p, version: 1, pageSize: pageSize) }
        let fillSeconds = MonotonicClock.seconds() - fillStart
        region.resetStatistics()
        let fileLoadsBefore = cache.frontswapStatistics.fileLoads

        final class Shared: @unchecked Sendable {
            // @unchecked Sendable: each thread touches only its own pages (p % threads == t) and
            // its own entries of `versions` and `bad`; the counts are read after every join.
            let region: SwapRegion
            let versions: UnsafeMutablePointer<UInt32>
            let bad: UnsafeMutablePointer<Int>
            init(region: SwapRegion, versions: UnsafeMutablePointer<UInt32>, threads: Int) {
                self.region = region
                self.versions = versions
                bad = .allocate(capacity: threads)
                bad.initialize(repeating: 0, count: threads)
            }
            deinit { bad.deallocate() }
        }
        let shared = Shared(region: region, versions: versions, threads: threads)
        let perThread = touches / threads
        let (threads, writePct) = (threads, writePct)
        let cpuStart = ResourceUsage.now().cpuSeconds
        let start = MonotonicClock.seconds()
        NativeThread.runAll(threads) { t in
            var random = XorShift64(seed: 0x2545_F491_4F6C_DD1D &+ UInt64(t) &* 0x9E37_79B9)
            var bad = 0
            let mine = (pages - t + threads - 1) / threads
            for _ in 0..<perThread {
                let x = random.next()
                let p = Int(x % UInt64(mine)) * threads + t
                let v = shared.versions[p]
                if !VersionedPage.verify(shared.region.baseAddress, page: p, version: v, pageSize: pageSize) { bad += 1 }
                if Int((x >> 32) % 100) < writePct {
                    shared.versions[p] = v &+ 1
                    VersionedPage.fill(shared.region.baseAddress, page: p, version: v &+ 1, pageSize: pageSize)
                }
            }
            shared.bad[t] = bad
        }
        let wall = (MonotonicClock.seconds() - start) * 1e6
        let cpu = (ResourceUsage.now().cpuSeconds - cpuStart) * 1e6
        let s = region.statistics
        let z = cache.frontswapStatistics
        var bad = (0..<threads).reduce(0) { $0 + shared.bad[$1] }
        // Every page, at the end, in its latest version (not part of the figures).
        for p in 0..<pages where !VersionedPage.verify(region.baseAddress, page: p, version: versions[p], pageSize: pageSize) { bad += 1 }
        let done = Double(perThread * threads)
        say("bench-file-reads tier=\(cluster == nil ? "file" : "cluster") mode=\(configuration.faultMode.rawValue) reads=\(configuration.fileReads) threads=\(threads) "
            + "size_mib=\(sizeMib) resident_mib=\(residentMib) pool_mib=\(poolMib) uncached=\(uncached ? 1 : 0) "
            + "touches=\(perThread * threads) us_per_touch=\(twoDecimals(wall / done)) cpu_us_per_touch=\(twoDecimals(cpu / done)) "
            + "swap_ins=\(s.swapIns) file_loads=\(z.fileLoads - fileLoadsBefore) queued_file_reads=\(s.fileReads) "
            + "file_read_waits=\(s.fileReadWaits) inline_file_reads=\(s.inlineFileReads) "
            + "file_swapin_p50_us=\(twoDecimals(s.fileSwapInLatency.p50)) file_swapin_p99_us=\(twoDecimals(s.fileSwapInLatency.p99)) "
            + "fault_p50_us=\(twoDecimals(s.faultLatency.p50)) failed_reads=\(s.failedReads) fill_s=\(twoDecimals(fillSeconds)) bad_pages=\(bad)")
        if bad != 0 { throw ExitCode(1) }
    }
}

// MARK: failed-setup

/// What a process holds that a region's setup makes: descriptors, mappings, threads, and the
/// SIGBUS action.
struct ProcessResources: Equatable, CustomStringConvertible {
    var descriptors = 0
    var mappings = 0
    var threads = 0
    /// The size of the largest mapping, in bytes.
    var largestMapping = 0
    /// The SIGBUS action's handler address (0: the default action).
    var sigbusHandler: UInt = 0

    /// This process's resources now.
    static func now() -> ProcessResources {
        var r = ProcessResources()
        r.descriptors = entries(of: "/proc/self/fd")
        r.threads = entries(of: "/proc/self/task")
        let maps = (try? ProcFile.read("/proc/self/maps")) ?? ""
        for line in maps.split(separator: "\n") {
            r.mappings += 1
            let range = line.prefix { $0 != " " }.split(separator: "-")
            if range.count == 2, let low = Int(range[0], radix: 16), let high = Int(range[1], radix: 16) {
                r.largestMapping = max(r.largestMapping, high - low)
            }
        }
        var action = sigaction()
        sigaction(SIGBUS, nil, &action)
        r.sigbusHandler = UInt(bitPattern: unsafeBitCast(action.__sigaction_handler.sa_handler, to: Int.self))
        return r
    }

    /// The entries of a /proc directory, without `.` and `..`.
    static func entries(of path: String) -> Int {
        guard let directory = opendir(path) else { return -1 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { count += 1 }
        }
        return count - (path.hasSuffix("/fd") ? 1 : 0)  // the directory's own descriptor
    }

    var description: String {
        "fds=\(descriptors) maps=\(mappings) threads=\(threads) largest_mib=\(largestMapping >> 20) sigbus_handler=0x\(String(sigbusHandler, radix: 16))"
    }
}

struct FailedSetup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failed-setup",
        abstract: "Make region setups fail at one step; print the process's resources before and after.",
        discussion: "Run it with GLIBC_TUNABLES=glibc.malloc.arena_max=1: otherwise a thread arena glibc maps under load counts as two more mappings.")

    @OptionGroup var region: RegionOptions

    @Option(help: "The step that fails: handshake or thread-start.")
    var fault: SwapRegion.SetupFault

    @Flag(help: "Reclaim on a background thread.")
    var background = false

    @Option(help: "Failed setups to make.")
    var attempts = 3

    func run() throws {
        // Larger than any other mapping of this process, so that a leaked one shows.
        let size = 777 << 20
        let zram: ZramDevice
        do { zram = try ZramDevice(ZramConfiguration(disksize: 64 << 20)) } catch { throw setupFailed("zram: \(error)") }
        var configuration = SwapRegionConfiguration(size: size, residentLimit: 1 << 20)
        configuration.faultMode = region.mode
        configuration.fileReads = region.reads
        configuration.reclaimMode = background ? .background : .inFault
        // One region made and closed first, so that what stays after a first use (the runtime's
        // metadata, the C library's thread stacks and arenas) is there before the count.
        do {
            let warmUp = try SwapRegion(configuration, backend: zram)
            warmUp.baseAddress.storeBytes(of: 1, as: UInt8.self)
            warmUp.close()
        } catch {
            throw setupFailed("the warm-up region: \(error)")
        }
        let before = ProcessResources.now()
        var message = ""
        for _ in 0..<attempts {
            do {
                _ = try SwapRegion(configuration, backend: zram, failingAt: fault)
                message = "the setup did not fail"
            } catch {
                message = "\(error)"
            }
        }
        let after = ProcessResources.now()
        say("failed-setup: fault=\(fault.rawValue) mode=\(region.mode.rawValue) reads=\(region.reads) background=\(background ? 1 : 0) same=\(before == after ? 1 : 0)")
        say("before: \(before)")
        say("after: \(after)")
        say("error: \(message)")
    }
}

// MARK: defaults

struct Defaults: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the region defaults that depend on the machine (run it under taskset to see them change).")

    func run() {
        say("defaults: reclaim=\(SwapRegionConfiguration.ReclaimMode.default.rawValue)")
    }
}

// MARK: array-index

struct ArrayIndex: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "array-index", abstract: "Read one element of a SwapArray through its subscript.")

    @Option(help: "Elements in the array.")
    var count = 100_000

    @Option(help: "The index to read (outside 0..<count: the subscript traps).")
    var index: Int

    func run() throws {
        let array: SwapArray<UInt64>
        do {
            let zram = try ZramDevice(ZramConfiguration(disksize: 64 << 20))
            array = try SwapArray(repeating: 7, count: count, residentLimit: 1 << 20, backend: zram)
        } catch {
            throw setupFailed("the array: \(error)")
        }
        say("array: count=\(array.count) index=\(index)")
        say("value: \(array[index])")
    }
}

struct FaultHelper: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "USwapFaultHelper",
        abstract: "Swap region scenarios that run in a process of their own.",
        subcommands: [
            FailRead.self, BenchFileReads.self, FailedSetup.self, ArrayIndex.self, ClusterStopNode.self, ClusterPartition.self,
            Defaults.self,
        ])
}

// No core file, whatever the machine's settings: a death by a signal is an expected outcome.
var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
_ = setrlimit(Int32(RLIMIT_CORE.rawValue), &noCore)
FaultHelper.main()
