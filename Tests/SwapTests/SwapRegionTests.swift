import PageStore
import Synchronization
import SystemSupport
import TestSupport
import Testing
import Workloads
@_spi(Testing) @testable import Swap

/// Whether userfaultfd works here; prints why not (and records a failure under CI=true).
func userfaultfdAvailable(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    switch SwapRegion.probe() {
    case .success: return true
    case .failure(let error):
        CIGate.unavailable("userfaultfd: \(error)", sourceLocation: sourceLocation)
        return false
    }
}

let page = 4096

/// Runs `body` on `count` threads at once and waits for all.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    NativeThread.runAll(count, body)
}

/// Present pages of a range according to /proc/self/pagemap (bit 63).
func presentPages(_ base: UnsafeMutableRawPointer, pages: Int) -> Int? {
    let fd = open("/proc/self/pagemap", O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var entries = [UInt64](repeating: 0, count: pages)
    let offset = off_t(UInt(bitPattern: base) / UInt(page) * 8)
    let n = entries.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
    guard n == pages * 8 else { return nil }
    return entries.reduce(0) { $0 + ($1 >> 63 != 0 ? 1 : 0) }
}

@Suite(.serialized) struct SwapRegionTests {
    @Test(arguments: SlotPolicy.allCases)
    func pagesSurviveEvictionAndComeBack(policy: SlotPolicy) throws {
        guard userfaultfdAvailable() else { return }
        let pages = 1024
        let backend = MemoryBackend(slotCount: pages)
        let region = try SwapRegion(SwapRegionConfiguration(size: pages * page, residentLimit: 64 * page, policy: policy), backend: backend)
        defer { region.close() }
        let words = region.baseAddress.assumingMemoryBound(to: UInt64.self)
        for p in 0..<pages { words[p * page / 8] = UInt64(p) &* 0x9E37_79B9 &+ 1 }
        #expect(region.statistics.swapOuts >= pages - 64)
        for p in 0..<pages { #expect(words[p * page / 8] == UInt64(p) &* 0x9E37_79B9 &+ 1) }
        let s = region.statistics
        #expect(s.swapIns >= pages - 64)
        #expect(s.residentMaxPages <= 64)
        region.checkInvariants()
    }

    @Test func probeReportsTheFeaturesARegionNeeds() throws {
        guard userfaultfdAvailable() else { return }
        let features = try SwapRegion.probe().get()
        #expect(features.contains(.pagefaultFlagWP))
        #expect(features.contains(.sigbus))
        #expect(features.description.contains("PAGEFAULT_FLAG_WP"))
    }

    /// Each fault mode needs its way of delivering a failed swap-in as SIGBUS: without it the
    /// region refuses to start (a handler thread without UFFDIO_POISON would wake the thread
    /// into the same fault forever).
    @Test(arguments: SwapRegionConfiguration.FaultMode.allCases)
    func aFaultModeWithoutItsWayToDeliverAFailureIsRefused(mode: SwapRegionConfiguration.FaultMode) throws {
        var configuration = SwapRegionConfiguration(size: 64 * page, residentLimit: 16 * page)
        configuration.faultMode = mode
        let all = UserfaultfdFeatures(rawValue: 0x1_FFFF)
        let needed: UserfaultfdFeatures = mode == .signal ? .sigbus : .poison
        #expect(throws: SwapError.missingFeatures(needed)) {
            _ = try SwapRegion.features(for: configuration, available: all.subtracting(needed))
        }
        let wanted = try SwapRegion.features(for: configuration, available: all)
        #expect(wanted.contains(needed) && wanted.contains(.pagefaultFlagWP))
        let message = SwapError.missingFeatures(needed).description
        #expect(message.contains(mode == .signal ? "handler-thread fault mode" : "UFFDIO_POISON (Linux >= 6.6)"), "\(message)")
    }

    @Test func badConfigurationsAreRejectedWithAReason() throws {
        guard userfaultfdAvailable() else { return }
        let backend = MemoryBackend(slotCount: 64)
        #expect(throws: SwapError.self) {
            try SwapRegion(SwapRegionConfiguration(size: 64 * page + 1, residentLimit: 32 * page), backend: backend)
        }
        #expect(throws: SwapError.self) {
            try SwapRegion(SwapRegionConfiguration(size: 64 * page, residentLimit: 2 * page), backend: backend)
        }
        #expect(throws: SwapError.self) {
            try SwapRegion(SwapRegionConfiguration(size: 64 * page, residentLimit: 32 * page), backend: MemoryBackend(slotCount: 64, pageSize: 8192))
        }
        do {
            _ = try SwapRegion(SwapRegionConfiguration(size: 0, residentLimit: 32 * page), backend: backend)
            Issue.record("a zero-sized region was accepted")
        } catch {
            #expect(error.description.contains("multiple of the page size"))
        }
    }

    @Test(arguments: [SwapRegionConfiguration.FaultMode.handlerThread, .signal],
          [SwapRegionConfiguration.ReclaimMode.inFault, .background])
    func everyFaultAndReclaimModeKeepsData(fault: SwapRegionConfiguration.FaultMode, reclaim: SwapRegionConfiguration.ReclaimMode) throws {
        guard userfaultfdAvailable() else { return }
        let pages = 2048
        let backend = MemoryBackend(slotCount: pages * 2)
        var configuration = SwapRegionConfiguration(size: pages * page, residentLimit: 256 * page, policy: .lazy)
        configuration.faultMode = fault
        configuration.reclaimMode = reclaim
        let region = try SwapRegion(configuration, backend: backend)
        defer { region.close() }
        let base = UInt(bitPattern: region.baseAddress)
        let errors = Atomic<Int>(0)
        onThreads(2) { t in
            let words = UnsafeMutablePointer<UInt64>(bitPattern: base)!
            for round in 0..<3 {
                for p in stride(from: t, to: pages, by: 2) {
                    if round > 0 && words[p * 512] != UInt64(p * 10 + round - 1) { errors.add(1, ordering: .relaxed) }
                    words[p * 512] = UInt64(p * 10 + round)
                }
            }
        }
        #expect(errors.load(ordering: .relaxed) == 0)
        let s = region.statistics
        #expect(s.residentMaxPages <= 256)
        #expect(s.swapIns > 0 && s.failedFaults == 0)
        region.quiesce()  // quiescent for the checks: a handler thread may still be
        region.handler.stopThread()  // unlocking the page whose UFFDIO_COPY woke the last fault
        region.checkInvariants()
    }

    @Test func kernelModeAccessToAnEvictedPageFailsUntilPrefaulted() throws {
        guard userfaultfdAvailable() else { return }
        let backend = MemoryBackend(slotCount: 64)
        let region = try SwapRegion(SwapRegionConfiguration(size: 64 * page, residentLimit: 16 * page), backend: backend)
        defer { region.close() }
        region.baseAddress.storeBytes(of: 1, as: UInt64.self)
        #expect(region.evict(page: 0))
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        var message: UInt64 = 0xFEED
        #expect(write(fds[1], &message, 8) == 8)
        // The user-mode-only descriptor does not serve the kernel's own access: EFAULT.
        #expect(read(fds[0], region.baseAddress, 8) == -1)
        #expect(errno == EFAULT)
        try region.prefault(0..<8)
        #expect(read(fds[0], region.baseAddress, 8) == 8)
        #expect(region.baseAddress.load(as: UInt64.self) == 0xFEED)
        #expect(throws: SwapError.rangeOutOfBounds(0..<(65 * page), size: 64 * page)) { try region.prefault(0..<(65 * page)) }
    }

    /// Each step of a setup that can fail after the mapping and the descriptor exist, in every
    /// mode; counted in a process of its own (other tests open descriptors and map memory), with
    /// one malloc arena: a thread that first allocates while no arena is free makes glibc map a
    /// new one (two lines of /proc/self/maps, kept for the process's life), which the count
    /// would take for a leak (seen in CI under load).
    @Test(arguments: SwapRegion.SetupFault.allCases, [["--mode", "signal"], ["--mode", "handler-thread", "--reads", "io-threads:2", "--background"]])
    func aFailedSetupLeavesNoDescriptorMappingThreadOrSignalHandlerBehind(fault: SwapRegion.SetupFault, options: [String]) async throws {
        guard userfaultfdAvailable() else { return }
        let run = try await HelperProcess.run(
            "USwapFaultHelper", ["failed-setup", "--fault", fault.rawValue] + options,
            environment: ["GLIBC_TUNABLES": "glibc.malloc.arena_max=1"])
        #expect(run.exitCode == 0, "\(run.output)")
        let before = try #require(run.fields(of: "before:"), "\(run.output)")
        let after = try #require(run.fields(of: "after:"), "\(run.output)")
        #expect(before == after, "\(run.output)")
        #expect(Int(after["largest_mib"] ?? "") ?? 777 < 777, "no region-sized mapping is left")
        #expect(run.fields(of: "failed-setup:")?["same"] == "1")
        let expected = fault == .handshake ? "userfaultfd handshake failed" : "injected by a test"
        #expect(run.output.contains(expected), "\(run.output)")
    }

    @Test func closeIsIdempotentAndLaterCallsReportClosed() throws {
        guard userfaultfdAvailable() else { return }
        let backend = MemoryBackend(slotCount: 64)
        let region = try SwapRegion(SwapRegionConfiguration(size: 64 * page, residentLimit: 16 * page), backend: backend)
        for p in 0..<64 { (region.baseAddress + p * page).storeBytes(of: UInt64(p), as: UInt64.self) }
        #expect(backend.stored.load(ordering: .relaxed) > 0)
        #expect(!region.isClosed)
        region.close()
        region.close()
        #expect(region.isClosed)
        #expect(backend.stored.load(ordering: .relaxed) == 0, "closing frees every slot")
        #expect(throws: SwapError.closed) { try region.prefault(0..<1) }
    }

    /// 4 threads, 64 MiB region, 16 MiB resident, 200,000 page operations checked against a
    /// model: each thread writes only its own pages (p % 4 == thread) and checks them exactly;
    /// reads of other threads' pages must never see a version older than the one published.
    @Test(arguments: SlotPolicy.allCases)
    func integrityTortureWithFourThreads(policy: SlotPolicy) throws {
        try torture(policy: policy, eviction: .move)
    }

    @Test func integrityTortureWithWriteProtectEviction() throws {
        try torture(policy: .freeOnSwapIn, eviction: .writeProtect)
    }

    func torture(policy: SlotPolicy, eviction: SwapRegionConfiguration.EvictionMethod) throws {
        guard userfaultfdAvailable() else { return }
        let pages = 16384
        let limit = 4096
        let threads = 4
        let operationsPerThread = 50_000
        let backend = MemoryBackend(slotCount: pages)
        var configuration = SwapRegionConfiguration(size: pages * page, residentLimit: limit * page, policy: policy)
        configuration.evictionMethod = eviction
        let region = try SwapRegion(configuration, backend: backend)
        defer { region.close() }
        let model = UnsafeMutablePointer<Atomic<UInt64>>.allocate(capacity: pages)
        for i in 0..<pages { (model + i).initialize(to: Atomic<UInt64>(0)) }
        defer { model.deinitialize(count: pages); model.deallocate() }
        let errors = Atomic<Int>(0)
        let overLimit = Atomic<Int>(0)
        let done = Atomic<Bool>(false)
        let base = UInt(bitPattern: region.baseAddress)
        let modelAddress = UInt(bitPattern: model)
        let limitPages = region.residentLimitPages
        // A sampler checks the hard cap while the threads run.
        let sampler = Thread { [region] in
            while !done.load(ordering: .relaxed) {
                if region.chargedPages > limitPages { overLimit.add(1, ordering: .relaxed) }
                usleep(200)
            }
        }
        onThreads(threads) { t in
            let words = UnsafeMutablePointer<UInt64>(bitPattern: base)!
            let model = UnsafeMutablePointer<Atomic<UInt64>>(bitPattern: modelAddress)!
            var random = XorShift64(seed: 0x1234_5678 &+ UInt64(t) &* 0x9E37_79B9_7F4A_7C15)
            for _ in 0..<operationsPerThread {
                let r = random.next()
                let p = Int(r % UInt64(pages))
                let w = p * page / 8
                if p % threads == t {
                    let expected = model[p].load(ordering: .relaxed)
                    let seen = words[w + 1]
                    if expected != 0 && (seen != expected || words[w] != UInt64(p) || words[w + 511] != expected ^ 0xFFFF) {
                        errors.add(1, ordering: .relaxed)
                    }
                    if (r >> 32) % 100 < 40 {
                        let version = expected + 1
                        words[w] = UInt64(p)
                        words[w + 511] = version ^ 0xFFFF
                        words[w + 1] = version
                        model[p].store(version, ordering: .releasing)
                    }
                } else {
                    let published = model[p].load(ordering: .acquiring)
                    let seen = words[w + 1]
                    if seen < published { errors.add(1, ordering: .relaxed) }
                }
            }
        }
        done.store(true, ordering: .relaxed)
        sampler.join()
        #expect(errors.load(ordering: .relaxed) == 0)
        #expect(overLimit.load(ordering: .relaxed) == 0)
        let s = region.statistics
        #expect(s.residentMaxPages <= limit)
        #expect(s.swapIns > 10_000)
        #expect(s.failedFaults == 0)
        if let present = presentPages(region.baseAddress, pages: pages) { #expect(present <= limit) }
        region.checkInvariants()
        // Every page, once more, from one thread.
        let words = region.baseAddress.assumingMemoryBound(to: UInt64.self)
        var mismatches = 0
        for p in 0..<pages {
            let v = model[p].load(ordering: .relaxed)
            if v != 0 && (words[p * 512 + 1] != v || words[p * 512] != UInt64(p) || words[p * 512 + 511] != v ^ 0xFFFF) { mismatches += 1 }
        }
        #expect(mismatches == 0)
        switch policy {
        case .freeOnSwapIn:
            #expect(s.keptCopies == 0)
            #expect(s.cleanDrops == 0)
            #expect(s.notifyFree == s.swapIns)
        case .lazy, .adaptive:
            #expect(s.cleanDrops > 0)
        }
    }
}

/// A joinable thread running a closure (tests only): a started NativeThread, or a failed test.
struct Thread {
    private let thread: NativeThread
    init(_ body: @escaping @Sendable () -> Void) {
        thread = try! NativeThread.start(body)
    }
    func join() { thread.join() }
}

/// A thread that keeps writing a counter (1, 2, 3, ...) into the first word of a page and
/// checks, before each write, that the word still holds its last one (tests of writes that
/// land while their page is evicted).
final class CounterWriter: @unchecked Sendable {
    // @unchecked Sendable: the counters are atomics; `thread` is set in init and joined by stop().
    private var thread: Thread?
    private let stopping = Atomic<Bool>(false)
    private let lastWritten = Atomic<UInt64>(0)
    private let lost = Atomic<Int>(0)

    /// Starts writing into the word at `address` (it keeps counting from the word's value).
    init(address: UInt) {
        thread = Thread { [self] in
            let word = UnsafeMutablePointer<UInt64>(bitPattern: address)!
            var value = word.pointee
            while !stopping.load(ordering: .relaxed) {
                if word.pointee != value { lost.add(1, ordering: .relaxed) }
                value += 1
                word.pointee = value
                lastWritten.store(value, ordering: .relaxed)
            }
        }
    }

    /// Stops the thread and returns how many of its writes were not there when it looked
    /// again, and the last value it wrote.
    func stop() -> (lost: Int, last: UInt64) {
        stopping.store(true, ordering: .relaxed)
        thread?.join()
        return (lost.load(ordering: .relaxed), lastWritten.load(ordering: .relaxed))
    }
}
