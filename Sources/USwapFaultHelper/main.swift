// USwapFaultHelper: scenarios for SwapTests that must run in their own process (their outcome
// may be a death by SIGBUS, and fork is unsafe in a multithreaded test runner), and a small
// file-tier benchmark.
//
// Usage: USwapFaultHelper SCENARIO [options]; prints what it did on stdout (written straight to
// the descriptor, so nothing is lost when the process dies of a signal), exits 0 on success,
// 1 on a verification failure, 2 on bad usage or setup failure.
//
//   fail-read       A page in the file tier whose reads fail; the helper touches it.
//                   --mode signal|handler-thread   --reads inline|io-threads:N
//                   --retries R (default 2)   --failures N|permanent (default permanent)
//                   --own-handler (install a SIGBUS handler before the region: it prints the
//                   state after the failure, then dies of SIGBUS with the default action)
//     prints  "before: page=P slot=S location=file held=1 failed_reads=0"
//     then either dies of SIGBUS (reads kept failing: retries exhausted) or prints
//             "after: value=ok retries=.. failed_reads=.. slot_freed=1" and exits 0.
//   bench-file-reads  Random touches over a region whose swapped pages mostly live in a file.
//                   --mode --reads as above; --size-mib 256 --resident-mib 64 --pool-mib 8
//                   --touches 200000 --write-pct 20 --threads 1 --dir /var/tmp --uncached
//     prints one line of key=value figures; exits 1 when a page fails to verify.
#if canImport(Glibc)
import Glibc
#endif
import CUSwap
import PageStore
import Swap
import ZSwap

/// Writes `text` and a newline straight to standard output (no buffering: the process may die
/// of SIGBUS right after).
func say(_ text: String) {
    let line = text + "\n"
    _ = line.withCString { write(1, $0, strlen($0)) }
}

/// Writes `text` and a newline to standard error.
func complain(_ text: String) {
    let line = text + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}

/// Exits with status 2 after saying why.
func usage(_ text: String) -> Never {
    complain("USwapFaultHelper: \(text)")
    exit(2)
}

// MARK: Options

nonisolated(unsafe) var options: [String: String] = [:]  // written once, before any thread starts
nonisolated(unsafe) var flags: Set<String> = []
let arguments = Array(CommandLine.arguments.dropFirst())
guard let scenario = arguments.first else { usage("usage: USwapFaultHelper SCENARIO [--option value ...]") }
do {
    var i = 1
    while i < arguments.count {
        let key = arguments[i]
        guard key.hasPrefix("--") else { usage("unexpected argument \(key)") }
        let name = String(key.dropFirst(2))
        if name == "own-handler" || name == "uncached" {
            flags.insert(name)
            i += 1
        } else {
            guard i + 1 < arguments.count else { usage("\(key) needs a value") }
            options[name] = arguments[i + 1]
            i += 2
        }
    }
}

func integer(_ name: String, _ fallback: Int) -> Int {
    guard let text = options[name] else { return fallback }
    guard let value = Int(text) else { usage("--\(name) \(text) is not a number") }
    return value
}

func faultMode() -> SwapRegionConfiguration.FaultMode {
    let text = options["mode"] ?? "signal"
    guard let mode = SwapRegionConfiguration.FaultMode(rawValue: text) else { usage("--mode \(text): signal or handler-thread") }
    return mode
}

func fileReads() -> SwapRegionConfiguration.FileReads {
    let text = options["reads"] ?? "inline"
    guard let reads = SwapRegionConfiguration.FileReads(text) else { usage("--reads \(text): inline or io-threads:N") }
    return reads
}

// No core file, whatever the machine's settings: a SIGBUS death is the expected outcome.
var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
_ = setrlimit(Int32(RLIMIT_CORE.rawValue), &noCore)

/// A temporary backing file whose path is unlinked at once, so that nothing is left behind
/// even when the process dies of a signal.
func unlinkedFile(in directory: String, blocks: Int, uncached: Bool) -> BackingFile {
    do {
        let file = try BackingFile.temporary(in: directory, prefix: "uswap-helper", blockCount: blocks,
                                             options: uncached ? [.uncached] : [])
        _ = unlink(file.path)
        return file
    } catch {
        usage("cannot make a backing file in \(directory): \(error)")
    }
}

/// Page `p`'s contents in version `v`: half distinct words, half a repeated one (compresses ~2x).
@inline(__always)
func expectedWord(page p: Int, version v: UInt32, index i: Int) -> UInt64 {
    if i & 1 == 0 { return UInt64(p) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(v) &* 0xBF58_476D_1CE4_E5B9 &+ UInt64(i) }
    return UInt64(p) | UInt64(v) << 40
}

@inline(__always)
func fill(_ base: UnsafeMutableRawPointer, page p: Int, version v: UInt32, pageSize: Int) {
    let words = (base + p * pageSize).assumingMemoryBound(to: UInt64.self)
    for i in 0..<(pageSize / 8) { words[i] = expectedWord(page: p, version: v, index: i) }
}

@inline(__always)
func verify(_ base: UnsafeMutableRawPointer, page p: Int, version v: UInt32, pageSize: Int) -> Bool {
    let words = (base + p * pageSize).assumingMemoryBound(to: UInt64.self)
    for i in 0..<(pageSize / 8) where words[i] != expectedWord(page: p, version: v, index: i) { return false }
    return true
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
    var action = sigaction()
    action.__sigaction_handler.sa_handler = SIG_DFL
    sigemptyset(&action.sa_mask)
    sigaction(SIGBUS, &action, nil)
    // Pending until this handler returns (SIGBUS is blocked while it runs): then default.
    raise(SIGBUS)
}

func failRead() -> Int32 {
    let pages = 64
    let pageSize = 4096
    if flags.contains("own-handler") {
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = { reportAndDie($0, $1, $2) }
        action.sa_flags = SA_SIGINFO
        sigemptyset(&action.sa_mask)
        sigaction(SIGBUS, &action, nil)
    }
    let base = unlinkedFile(in: options["dir"] ?? "/tmp", blocks: pages * 2, uncached: false)
    let file = FaultInjectingBackingFile(wrapping: base)
    var frontswap = FrontswapConfiguration(slotCount: pages * 2, poolLimit: .bytes(4 * pageSize))
    frontswap.checksums = true
    let cache: FrontswapCache
    do { cache = try FrontswapCache(frontswap, file: file) } catch { usage("cannot make the cache: \(error)") }
    var configuration = SwapRegionConfiguration(size: pages * pageSize, residentLimit: 16 * pageSize, policy: .freeOnSwapIn)
    configuration.faultMode = faultMode()
    configuration.fileReads = fileReads()
    configuration.readRetries = integer("retries", 2)
    configuration.readRetryPauseMicroseconds = 100
    let region: SwapRegion
    do { region = try SwapRegion(configuration, backend: cache) } catch { usage("cannot make the region: \(error)") }
    for p in 0..<pages { fill(region.baseAddress, page: p, version: 1, pageSize: pageSize) }
    // A page whose copy is in the file.
    guard let (page, slot) = (0..<pages).lazy.compactMap({ p -> (Int, Int)? in
        guard let s = region.swapSlot(ofPage: p), cache.location(of: s) == .file else { return nil }
        return (p, s)
    }).first else {
        usage("no page went to the file (pool too large?)")
    }
    watchedRegion = region
    watchedCache = cache
    watchedFile = file
    watchedPage = page
    watchedSlot = slot
    let failures = options["failures"] ?? "permanent"
    if failures == "permanent" {
        file.inject(.error(errno: EIO), on: .read, when: .block(slot))
    } else {
        file.inject(.error(errno: EIO), on: .read, when: .block(slot), times: integer("failures", 1))
    }
    let s = region.statistics
    say("before: page=\(page) slot=\(slot) location=\(cache.location(of: slot)) held=\(region.swapSlot(ofPage: page) == slot ? 1 : 0) failed_reads=\(s.failedReads) mode=\(configuration.faultMode.rawValue) reads=\(configuration.fileReads)")
    // The touch: SIGBUS here when the reads keep failing.
    let ok = verify(region.baseAddress, page: page, version: 1, pageSize: pageSize)
    let after = region.statistics
    say("after: value=\(ok ? "ok" : "wrong") retries=\(after.readRetries) failed_reads=\(after.failedReads) failed_faults=\(after.failedFaults) slot_freed=\(cache.location(of: slot) == .empty ? 1 : 0) file_reads=\(after.fileReads) inline_file_reads=\(after.inlineFileReads)")
    region.close()
    base.close()
    return ok ? 0 : 1
}

// MARK: bench-file-reads

func benchFileReads() -> Int32 {
    let pageSize = 4096
    let size = integer("size-mib", 256) << 20
    let resident = integer("resident-mib", 64) << 20
    let pool = integer("pool-mib", 8) << 20
    let touches = integer("touches", 200_000)
    let writePercent = integer("write-pct", 20)
    let threads = max(1, integer("threads", 1))
    let pages = size / pageSize
    let slots = pages + pages / 4
    let base = unlinkedFile(in: options["dir"] ?? "/var/tmp", blocks: slots, uncached: flags.contains("uncached"))
    defer { base.close() }
    let cache: FrontswapCache
    do {
        cache = try FrontswapCache(FrontswapConfiguration(slotCount: slots, poolLimit: .bytes(pool)), file: base)
    } catch { usage("cannot make the cache: \(error)") }
    var configuration = SwapRegionConfiguration(size: size, residentLimit: resident)
    configuration.faultMode = faultMode()
    configuration.fileReads = fileReads()
    let region: SwapRegion
    do { region = try SwapRegion(configuration, backend: cache) } catch { usage("cannot make the region: \(error)") }
    defer { region.close() }
    let versions = UnsafeMutablePointer<UInt32>.allocate(capacity: pages)
    defer { versions.deallocate() }
    versions.initialize(repeating: 1, count: pages)
    let fillStart = cuswap_now_ns()
    for p in 0..<pages { fill(region.baseAddress, page: p, version: 1, pageSize: pageSize) }
    let fillSeconds = Double(cuswap_now_ns() - fillStart) / 1e9
    region.resetStatistics()
    let fileLoadsBefore = cache.frontswapStatistics.fileLoads

    final class Shared: @unchecked Sendable {
        // @unchecked Sendable: each thread touches only its own pages (p % threads == t) and
        // its own entries of `versions`; the counters are written once per thread at the end.
        let region: SwapRegion
        let versions: UnsafeMutablePointer<UInt32>
        var bad: [Int]
        init(region: SwapRegion, versions: UnsafeMutablePointer<UInt32>, threads: Int) {
            self.region = region
            self.versions = versions
            bad = Array(repeating: 0, count: threads)
        }
    }
    let shared = Shared(region: region, versions: versions, threads: threads)
    let perThread = touches / threads
    func run(_ t: Int) {
        var x: UInt64 = 0x2545_F491_4F6C_DD1D &+ UInt64(t) &* 0x9E37_79B9
        var bad = 0
        let mine = (pages - t + threads - 1) / threads
        for _ in 0..<perThread {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            let p = Int(x % UInt64(mine)) * threads + t
            let v = shared.versions[p]
            if !verify(shared.region.baseAddress, page: p, version: v, pageSize: pageSize) { bad += 1 }
            if Int((x >> 32) % 100) < writePercent {
                shared.versions[p] = v &+ 1
                fill(shared.region.baseAddress, page: p, version: v &+ 1, pageSize: pageSize)
            }
        }
        shared.bad[t] = bad
    }
    let cpuStart = cuswap_process_cpu_ns()
    let start = cuswap_now_ns()
    if threads == 1 {
        run(0)
    } else {
        var handles: [pthread_t] = []
        final class Box: @unchecked Sendable { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
        for t in 0..<threads {
            var handle = pthread_t()
            let box = Unmanaged.passRetained(Box { run(t) }).toOpaque()
            guard pthread_create(&handle, nil, { raw in
                let b = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                b.body()
                return nil
            }, box) == 0 else { usage("pthread_create failed") }
            handles.append(handle)
        }
        for h in handles { pthread_join(h, nil) }
    }
    let wall = Double(cuswap_now_ns() - start) / 1e3
    let cpu = Double(cuswap_process_cpu_ns() - cpuStart) / 1e3
    let s = region.statistics
    let z = cache.frontswapStatistics
    var bad = shared.bad.reduce(0, +)
    // Every page, at the end, in its latest version (not part of the figures).
    for p in 0..<pages where !verify(region.baseAddress, page: p, version: versions[p], pageSize: pageSize) { bad += 1 }
    let done = perThread * threads
    func f(_ v: Double) -> String { String(Int((v * 100).rounded()) / 100) + "." + String(format2(Int((v * 100).rounded()) % 100)) }
    func format2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    say("bench-file-reads mode=\(configuration.faultMode.rawValue) reads=\(configuration.fileReads) threads=\(threads) "
        + "size_mib=\(size >> 20) resident_mib=\(resident >> 20) pool_mib=\(pool >> 20) uncached=\(flags.contains("uncached") ? 1 : 0) "
        + "touches=\(done) us_per_touch=\(f(wall / Double(done))) cpu_us_per_touch=\(f(cpu / Double(done))) "
        + "swap_ins=\(s.swapIns) file_loads=\(z.fileLoads - fileLoadsBefore) queued_file_reads=\(s.fileReads) "
        + "file_read_waits=\(s.fileReadWaits) inline_file_reads=\(s.inlineFileReads) "
        + "file_swapin_p50_us=\(f(s.fileSwapInLatency.p50)) file_swapin_p99_us=\(f(s.fileSwapInLatency.p99)) "
        + "fault_p50_us=\(f(s.faultLatency.p50)) failed_reads=\(s.failedReads) fill_s=\(f(fillSeconds)) bad_pages=\(bad)")
    return bad == 0 ? 0 : 1
}

switch scenario {
case "fail-read": exit(failRead())
case "bench-file-reads": exit(benchFileReads())
default: usage("unknown scenario \(scenario)")
}
