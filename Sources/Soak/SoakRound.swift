import PageStore
import Swap
import Synchronization
import SystemSupport
import Workloads
import ZRAM

/// One soak round: a backend and a region made from a plan, worker threads writing and
/// checking the pages they own, a tier thread doing the backend's own work (writeback, shrink,
/// compaction), and the round's thread injecting faults, checking permanent read failures and
/// making and closing small regions beside the main one; then, with every thread stopped,
/// every page compared with the model (a snapshot, then a read through the region), the
/// region closed and the backend checked for anything left behind.
///
/// Every disagreement is reported through ``mismatch(_:)`` as it is found (a planted bug may
/// crash the process right after) and counted in the round's totals.
final class SoakRound: @unchecked Sendable {
    // @unchecked Sendable: the counters are atomics, the mismatch list sits behind a mutex, the
    // region, model and backend are thread-safe, and the rest is set in init and never changed.

    let plan: SoakRoundPlan
    let pageSize: Int
    let region: SwapRegion
    let backend: RoundBackend
    let model: PageModel
    /// The monotonic time (ns) at which the workers stop.
    let deadline: Int
    /// Set when the round must end early (a mismatch with stop-on-mismatch, or the soak's end).
    let stop = Atomic<Bool>(false)
    /// Set when the region broke a rule that leaves its slot table inconsistent (a failed
    /// swap-in freed its slot): closing it would trap, so the round abandons it.
    let broken = Atomic<Bool>(false)
    private let stopOnMismatch: Bool
    private let onMismatch: @Sendable (String) -> Void

    let operations = Atomic<Int>(0)
    let pageChecks = Atomic<Int>(0)
    let snapshots = Atomic<Int>(0)
    let absorbedSnapshotErrors = Atomic<Int>(0)
    let typedErrors = Atomic<Int>(0)
    let permanentChecks = Atomic<Int>(0)
    private let found = Mutex<[String]>([])

    /// Makes the round's backend and region; throws when either cannot be made.
    init(
        plan: SoakRoundPlan, directory: String, stopOnMismatch: Bool, onMismatch: @escaping @Sendable (String) -> Void
    ) throws(SoakError) {
        self.plan = plan
        pageSize = AnonymousMapping.pageSize
        self.stopOnMismatch = stopOnMismatch
        self.onMismatch = onMismatch
        backend = try RoundBackend(plan: plan, directory: directory, pageSize: pageSize)
        do {
            region = try SwapRegion(plan.regionConfiguration(pageSize: pageSize), backend: backend.backend)
        } catch {
            backend.close()
            throw .setup(round: plan.index, "the region: \(error)")
        }
        model = PageModel(pageCount: plan.regionPages, pageSize: pageSize)
        deadline = MonotonicClock.nanoseconds() + plan.milliseconds * 1_000_000
    }

    /// Records a disagreement with the model or a broken rule.
    func mismatch(_ text: String) {
        let line = "round \(plan.index): \(text)"
        found.withLock { $0.append(line) }
        onMismatch(line)
        if stopOnMismatch { stop.store(true, ordering: .relaxed) }
    }

    /// Whether the workers should go on.
    @inline(__always)
    var running: Bool { !stop.load(ordering: .relaxed) && MonotonicClock.nanoseconds() < deadline }

    // MARK: Running

    /// Runs the round to its end and tears it down; returns its totals (mismatches and leaks
    /// left by the backend included; the process footprint is the engine's).
    func run() -> SoakTotals {
        let base = region.baseAddress
        // The quarantine pages, written once by this thread (their only writer).
        for q in plan.workerPages..<plan.regionPages { model.write(q, at: base) }
        installRoundFaults()
        var threads: [NativeThread] = []
        for t in 0..<plan.threads {
            do { threads.append(try NativeThread.start { [self] in worker(t) }) } catch {
                mismatch("worker thread \(t) could not start: \(error)")
            }
        }
        if let tier = try? NativeThread.start({ [self] in tierLoop() }) { threads.append(tier) }
        checkerLoop()
        for thread in threads { thread.join() }
        return finish()
    }

    /// The faults that hold for the whole round: slow calls, a full file, failing punches.
    private func installRoundFaults() {
        let faults = plan.faults
        guard let transient = backend.transient, let delays = backend.delays else { return }
        if faults.readDelayMicroseconds > 0 {
            delays.inject(.delay(microseconds: faults.readDelayMicroseconds), on: .read)
        }
        if faults.writeDelayMicroseconds > 0 {
            delays.inject(.delay(microseconds: faults.writeDelayMicroseconds), on: .write)
        }
        if faults.fileAlwaysFull { transient.inject(.error(errno: ENOSPC), on: .write) }
        if faults.punchFailures { transient.inject(.error(errno: EIO), on: .punch) }
    }

    // MARK: Workers

    /// Worker `t`: writes version 1 into each of its pages, then until the deadline does random
    /// operations on them, checking every page it reads against the model.
    private func worker(_ t: Int) {
        let threads = plan.threads
        let mine = (plan.workerPages - t + threads - 1) / threads
        guard mine > 0 else { return }
        let base = region.baseAddress
        var random = SplitMix64(seed: plan.seed &+ UInt64(t + 1) &* SplitMix64.golden)
        let snapshot = UnsafeMutableRawBufferPointer.allocate(byteCount: region.size, alignment: 4096)
        defer { snapshot.deallocate() }
        let before = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: plan.regionPages)
        defer { before.deallocate() }
        @inline(__always) func page(_ i: Int) -> Int { i * threads + t }
        @inline(__always) func check(_ p: Int, _ what: String) {
            pageChecks.add(1, ordering: .relaxed)
            if let problem = model.check(p, at: base) { mismatch("\(what): \(problem)") }
        }

        for i in 0..<mine where !stop.load(ordering: .relaxed) { model.write(page(i), at: base) }
        operations.add(mine, ordering: .relaxed)
        while running {
            let p = page(Int(random.next() % UInt64(mine)))
            switch random.next() % 100 {
            case 0..<30:
                check(p, "a read")
            case 30..<52:
                model.write(p, at: base)
            case 52..<62:
                // Rewrites while other threads evict: a write landing during an eviction must
                // not be lost.
                for _ in 0..<(2 + Int(random.next() % 14)) { model.write(p, at: base) }
                check(p, "a read after rewrites")
            case 62..<77:
                // A sweep over a run of pages: pushes the others out.
                let start = Int(random.next() % UInt64(mine))
                let count = min(mine - start, 1 + Int(random.next() % UInt64(2 * plan.residentPages / threads + 2)))
                let writes = random.next() % 3 == 0
                for i in start..<(start + count) {
                    if writes { model.write(page(i), at: base) } else { check(page(i), "a sweep") }
                }
            case 77..<85:
                takeSnapshot(into: snapshot, before: before, owner: t)
            case 85..<94:
                let first = Int(random.next() % UInt64(plan.workerPages))
                let count = min(plan.workerPages - first, 1 + Int(random.next() % UInt64(max(1, plan.residentPages / 4))))
                do {
                    try region.prefault((first * pageSize)..<((first + count) * pageSize))
                } catch {
                    mismatch("prefault of pages \(first)..<\(first + count) failed though every fault is transient: \(error)")
                }
                for q in first..<(first + count) where q % threads == t { check(q, "a read after a prefault") }
            default:
                model.write(p, at: base)
                check(p, "a read right after a write")
            }
            operations.add(1, ordering: .relaxed)
        }
    }

    /// Takes a snapshot and compares it with the model: the pages of `owner` (who is not
    /// writing them) exactly, other pages when their version stayed the same throughout.
    private func takeSnapshot(into buffer: UnsafeMutableRawBufferPointer, before: UnsafeMutableBufferPointer<UInt32>, owner: Int?) {
        for q in 0..<plan.regionPages { before[q] = model.version(of: q) }
        snapshots.add(1, ordering: .relaxed)
        do {
            try region.snapshot(into: buffer)
        } catch {
            if isFileError(error) {
                absorbedSnapshotErrors.add(1, ordering: .relaxed)
            } else {
                mismatch("a snapshot failed with an error no injected fault explains: \(error)")
            }
            return
        }
        var compared = 0
        for q in 0..<plan.regionPages {
            let version = before[q]
            let mine = owner.map { q < plan.workerPages && q % plan.threads == $0 } ?? false
            guard mine || (version & PageModel.writingBit == 0 && model.version(of: q) == version) else { continue }
            compared += 1
            let bytes = UnsafeRawPointer(buffer.baseAddress! + q * pageSize)
            if !model.matches(bytes, page: q, version: version) {
                mismatch("a snapshot: " + model.diagnose(bytes, page: q, expected: version))
            }
        }
        pageChecks.add(compared, ordering: .relaxed)
    }

    /// Whether `error` is what an injected file fault makes a read that does not retry throw.
    private func isFileError(_ error: SwapError) -> Bool {
        guard plan.backend.hasFile, case .backend(let cause) = error else { return false }
        switch cause {
        case .io, .corrupt: return true
        default: return false
        }
    }

    // MARK: The tier

    /// The backend's own work until the deadline: writeback, shrinking, idle marks, compaction.
    private func tierLoop() {
        var random = SplitMix64(seed: plan.seed ^ 0x7469_6572)
        while running {
            let step = backend.tierStep(&random)
            operations.add(step.operations, ordering: .relaxed)
            typedErrors.add(step.typedErrors, ordering: .relaxed)
            sleepMicroseconds(500 + Int(random.next() % 4_000))
        }
    }

    // MARK: The checker

    /// The round's own thread until the deadline: injects transient faults on blocks that hold
    /// pages, checks permanent read failures on quarantine pages, and makes and closes small
    /// regions beside the main one.
    private func checkerLoop() {
        var random = SplitMix64(seed: plan.seed ^ 0x6368_6B72)
        var ruled = Set<Int>()  // blocks that got a read fault: one rule per block per round
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: region.size, alignment: 4096)
        defer { buffer.deallocate() }
        var nextPermanent = MonotonicClock.nanoseconds() + 50_000_000
        var nextChurn = MonotonicClock.nanoseconds() + 100_000_000
        while running {
            sleepMicroseconds(1_000 + Int(random.next() % 3_000))
            injectReadFault(&random, ruled: &ruled)
            injectWriteFault(&random)
            let now = MonotonicClock.nanoseconds()
            if plan.faults.permanentReadChecks && plan.quarantinePages > 0 && now >= nextPermanent {
                checkPermanentReadFailure(&random, ruled: ruled, buffer: buffer)
                nextPermanent = now + 60_000_000 + Int(random.next() % 120_000_000)
            }
            if now >= nextChurn {
                churnRegion(&random)
                nextChurn = now + 150_000_000 + Int(random.next() % 300_000_000)
            }
        }
    }

    /// A transient read fault on the block of a page in the file: it fails at most
    /// `readRetries` reads of that block in the whole round, so every swap-in absorbs it.
    private func injectReadFault(_ random: inout SplitMix64, ruled: inout Set<Int>) {
        guard !plan.faults.readFaults.isEmpty, let transient = backend.transient else { return }
        let p = Int(random.next() % UInt64(plan.workerPages))
        guard let slot = region.swapSlot(ofPage: p), let block = backend.block(holding: slot), !ruled.contains(block) else { return }
        ruled.insert(block)
        let kind = plan.faults.readFaults[Int(random.next() % UInt64(plan.faults.readFaults.count))]
        transient.inject(Self.fault(kind), on: .read, when: .block(block), times: 1 + Int(random.next() % UInt64(plan.readRetries)))
    }

    /// A write fault on one write call a little ahead (ENOSPC, EIO or a torn half page).
    private func injectWriteFault(_ random: inout SplitMix64) {
        let every = plan.faults.writeFaultEvery
        guard every > 0, let transient = backend.transient, random.next() % 4 == 0 else { return }
        let call = transient.calls(.write) + 1 + Int(random.next() % UInt64(every))
        let fault: FaultInjectingBackingFile.Fault = switch random.next() % 3 {
        case 0: .error(errno: ENOSPC)
        case 1: .error(errno: EIO)
        default: .short
        }
        transient.inject(fault, on: .write, when: .call(call), times: 1)
    }

    /// The file fault for a read fault kind.
    static func fault(_ kind: SoakFaultPlan.ReadFault) -> FaultInjectingBackingFile.Fault {
        switch kind {
        case .eio: .error(errno: EIO)
        case .short: .short
        case .corrupt: .corrupt
        }
    }

    /// A permanent read fault on a quarantine page in the file: its swap-in must fail with a
    /// typed error and free nothing, a snapshot must fail too, and once the fault is gone the
    /// page must come back with its contents.
    private func checkPermanentReadFailure(_ random: inout SplitMix64, ruled: Set<Int>, buffer: UnsafeMutableRawBufferPointer) {
        guard let permanent = backend.permanent else { return }
        let q = plan.workerPages + Int(random.next() % UInt64(plan.quarantinePages))
        guard let slot = region.swapSlot(ofPage: q), let block = backend.pushToFile(slot: slot), !ruled.contains(block) else { return }
        var kinds: [SoakFaultPlan.ReadFault] = [.eio, .short]
        if plan.checksums { kinds.append(.corrupt) }
        let kind = kinds[Int(random.next() % UInt64(kinds.count))]
        let range = (q * pageSize)..<((q + 1) * pageSize)
        let what = "page \(q) (slot \(slot), block \(block)) with a permanent \(kind.rawValue) read fault"
        permanent.inject(Self.fault(kind), on: .read, when: .block(block))
        defer { permanent.clearFaults() }
        operations.add(1, ordering: .relaxed)

        do {
            try region.prefault(range)
            mismatch("\(what): the swap-in succeeded")
            return
        } catch {
            guard case .pageUnavailable = error else {
                mismatch("\(what): the swap-in failed with \(error), not pageUnavailable")
                return
            }
        }
        guard region.swapSlot(ofPage: q) == slot, backend.holds(slot: slot, block: block) else {
            mismatch("\(what): the failed swap-in freed its copy (the page now at slot \(region.swapSlot(ofPage: q).map(String.init) ?? "none"), the file block \(backend.block(holding: slot).map(String.init) ?? "gone"))")
            broken.store(true, ordering: .relaxed)
            stop.store(true, ordering: .relaxed)
            return
        }
        if random.next() % 2 == 0 {
            snapshots.add(1, ordering: .relaxed)
            do {
                try region.snapshot(into: buffer)
                mismatch("\(what): a snapshot succeeded")
            } catch {
                if !isFileError(error) { mismatch("\(what): a snapshot failed with \(error), not an I/O or checksum error") }
            }
        }
        permanent.clearFaults()
        permanentChecks.add(1, ordering: .relaxed)

        do {
            try region.prefault(range)
        } catch {
            mismatch("\(what): the page did not come back once the fault was gone: \(error)")
            return
        }
        pageChecks.add(1, ordering: .relaxed)
        if let problem = model.check(q, at: region.baseAddress) { mismatch("\(what), after the fault: \(problem)") }
        if random.next() % 2 == 0 { model.write(q, at: region.baseAddress) }
    }

    /// Makes a small region with its own zram device beside the main one, writes and checks
    /// its pages (some of them swapped), and closes it: regions come and go while others fault.
    private func churnRegion(_ random: inout SplitMix64) {
        let pages = 24 + Int(random.next() % 24)
        var configuration = SwapRegionConfiguration(
            size: pages * pageSize, residentLimit: SwapRegionConfiguration.minimumResidentPages * pageSize,
            policy: SlotPolicy.allCases[Int(random.next() % 3)])
        configuration.faultMode = random.next() % 2 == 0 ? .signal : .handlerThread
        let small: SwapRegion
        do {
            let device = try ZramDevice(ZramConfiguration(disksize: pages * 2 * pageSize, pageSize: pageSize))
            small = try SwapRegion(configuration, backend: device)
        } catch {
            mismatch("a small region beside the main one could not be made: \(error)")
            return
        }
        defer { small.close() }
        let base = small.baseAddress
        let version = UInt32(1 + random.next() % 1000)
        for p in 0..<pages { VersionedPage.fill(base, page: p, version: version, pageSize: pageSize) }
        for p in 0..<pages where !VersionedPage.verify(base, page: p, version: version, pageSize: pageSize) {
            mismatch("page \(p) of a small region beside the main one does not hold what was written")
        }
        operations.add(2 * pages, ordering: .relaxed)
        pageChecks.add(pages, ordering: .relaxed)
    }

    // MARK: The end

    /// Regions abandoned by broken rounds, kept until the process ends.
    static let abandoned = Mutex<[SwapRegion]>([])

    /// With every thread stopped: faults removed, invariants checked, every page compared
    /// through a snapshot and through the region, the region closed, the backend checked for
    /// leftovers. Returns the round's totals.
    private func finish() -> SoakTotals {
        backend.clearFaults()
        var totals = SoakTotals()
        let abandoned = broken.load(ordering: .relaxed)
        if abandoned {
            // Its page table names a freed slot: closing would trap on it. Keep it (and its
            // threads) alive until the process ends; the engine stops after this round.
            SoakRound.abandoned.withLock { $0.append(region) }
        } else {
            // The checks need a quiescent region and backend: a background reclaimer may still
            // be evicting (it runs until the charge is under its low watermark, after the
            // workers stopped), and the region has no way to wait for it. Such rounds check
            // after close, which stops it; the others both before and after.
            if plan.reclaimMode != .background {
                region.checkInvariants()
                backend.checkInvariants()
            }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: region.size, alignment: 4096)
            defer { buffer.deallocate() }
            snapshots.add(1, ordering: .relaxed)
            do {
                try region.snapshot(into: buffer)
                for p in 0..<plan.regionPages {
                    let bytes = UnsafeRawPointer(buffer.baseAddress! + p * pageSize)
                    if !model.matches(bytes, page: p, version: model.version(of: p)) {
                        mismatch("the final snapshot: " + model.diagnose(bytes, page: p, expected: model.version(of: p)))
                    }
                }
            } catch {
                mismatch("the final snapshot, with no fault left, failed: \(error)")
            }
            for p in 0..<plan.regionPages {
                if let problem = model.check(p, at: region.baseAddress) { mismatch("the final read: \(problem)") }
            }
            pageChecks.add(2 * plan.regionPages, ordering: .relaxed)
        }
        let statistics = region.statistics
        if !abandoned {
            region.close()
            region.checkInvariants()
            backend.checkInvariants()
            let slotsLeft = region.statistics.slotsInUse
            if slotsLeft != 0 { totals.addLeak("round \(plan.index): \(slotsLeft) swap slots still in use after close") }
            var leftovers = backend.leftovers()
            if !leftovers.isEmpty, let missed = backend.freeMissedCopies() {
                // Copies kept by missed free notifications: no more of them than notifications
                // missed, and nothing else left once they are gone.
                totals.missedFreeCopies = missed.pages
                if missed.pages > missed.missFree {
                    totals.addLeak("round \(plan.index): after close, \(missed.pages) pages were left but only \(missed.missFree) free notifications missed")
                }
                leftovers = backend.leftovers()
            }
            for leftover in leftovers { totals.addLeak("round \(plan.index): after close, \(leftover)") }
            totals.footprint.leftoverBackendUnits += slotsLeft + leftovers.count
        }
        let injected = backend.injected
        if !abandoned { backend.close() }

        totals.rounds = 1
        totals.roundsByBackend[plan.backend.rawValue] = 1
        totals.operations = operations.load(ordering: .relaxed)
        totals.pageChecks = pageChecks.load(ordering: .relaxed)
        totals.snapshots = snapshots.load(ordering: .relaxed)
        totals.readFaultsInjected = injected.reads
        totals.writeFaultsInjected = injected.writes
        totals.delaysInjected = injected.delays
        totals.faultsInjected = injected.reads + injected.writes + injected.delays + injected.punches
        totals.readRetries = statistics.readRetries
        totals.failedReads = statistics.failedReads
        totals.failedFaults = statistics.failedFaults
        totals.absorbedSnapshotErrors = absorbedSnapshotErrors.load(ordering: .relaxed)
        totals.typedErrors = typedErrors.load(ordering: .relaxed)
        totals.permanentChecks = permanentChecks.load(ordering: .relaxed)
        totals.swapIns = statistics.swapIns
        totals.swapOuts = statistics.swapOuts
        for line in found.withLock({ $0 }) { totals.addMismatch(line) }
        return totals
    }
}
