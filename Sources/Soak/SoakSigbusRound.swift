import PageStore
import Swap
import SystemSupport
import Workloads

/// A SIGBUS round: a region whose page in the file gets a permanent read fault, touched
/// directly by a thread, as an application would. The only acceptable outcome is the kernel's:
/// the thread gets SIGBUS (in SIGBUS mode the region's handler fails the fault; with a handler
/// thread the page is poisoned), and nothing was freed: the page still names its slot and the
/// backend still holds the page. The process dies of it, so the round runs in a child process
/// (``runChild(seed:index:directory:)``, started by ``run(_:seed:index:directory:)``); fork is
/// unsafe in a multithreaded Swift process.
///
/// The child installs its own SIGBUS handler before making the region, so that the region's
/// handler passes the failed fault on to it: it prints what it finds and dies of SIGBUS with
/// the default action. Its lines (written straight to the descriptor: nothing is lost when it
/// dies):
///
///     before: page=P slot=S block=B kind=eio slots_in_use=N failed_faults=F ...
///     sigbus: in_page=1 still_swapped=1 held=1 slots_in_use=N failed_faults=F+1 code=C
///
/// or, when the touch was served (a bug): `after: served=1 value=ok|wrong`, exit status 1.
public enum SoakSigbusRound {
    /// Exit status of a child that could not set up its scenario (no page reached the file):
    /// the round is skipped, not failed.
    public static let notSetUp: Int32 = 3

    // MARK: The parent's side

    /// Runs SIGBUS round `index` of the soak seeded with `seed` in a child process started
    /// with `command` (which must run ``runChild(seed:index:directory:)`` given `--seed S
    /// --round N --dir D`), and checks its outcome. Returns its totals (a mismatch when it did
    /// not die of SIGBUS or freed something).
    public static func run(_ command: SoakChildCommand, seed: UInt64, index: Int, directory: String) -> SoakTotals {
        var totals = SoakTotals()
        var lines: [String] = []
        let outcome: ChildProcess.Outcome
        do {
            outcome = try ChildProcess.run(
                command.executable, command.arguments + ["--seed", "\(seed)", "--round", "\(index)", "--dir", directory],
                environment: ["SWIFT_BACKTRACE": "enable=no"], silenceTimeoutMilliseconds: 120_000
            ) { lines.append($0) }
        } catch {
            totals.addMismatch("SIGBUS round \(index): the child could not start: \(error)")
            return totals
        }
        let tail = lines.suffix(3).joined(separator: " | ")
        if outcome.termination == .exited(notSetUp) { return totals }
        totals.sigbusRounds = 1
        totals.operations = 1
        let before = fields(lines, "before:")
        let after = fields(lines, "sigbus:")
        let what = "SIGBUS round \(index) (\(before?["backend"] ?? "?") \(before?["mode"] ?? "?") \(before?["reads"] ?? "?") \(before?["policy"] ?? "?") \(before?["kind"] ?? "?"))"
        guard outcome.termination == .signaled(SIGBUS), !outcome.killedForSilence else {
            totals.addMismatch("\(what): the child ended with \(outcome.termination)\(outcome.killedForSilence ? " (killed: it hung)" : ""), not SIGBUS: \(tail)")
            return totals
        }
        guard let before, let after else {
            totals.addMismatch("\(what): the child died of SIGBUS without its report: \(tail)")
            return totals
        }
        totals.failedFaults = 1
        var problems: [String] = []
        if after["in_page"] != "1" { problems.append("the SIGBUS was not at the faulting page") }
        if after["still_swapped"] != "1" { problems.append("the page no longer names its slot") }
        if after["held"] != "1" { problems.append("the backend no longer holds the page (a failed swap-in freed it)") }
        // The fault's charge may evict a page first (a slot more); nothing may free one.
        if let was = before["slots_in_use"].flatMap(Int.init), let now = after["slots_in_use"].flatMap(Int.init), now < was {
            problems.append("slots in use went down from \(was) to \(now)")
        }
        if let was = before["failed_faults"].flatMap(Int.init), let now = after["failed_faults"].flatMap(Int.init), now <= was {
            problems.append("the failed fault was not counted")
        }
        if !problems.isEmpty { totals.addMismatch("\(what): " + problems.joined(separator: "; ")) }
        return totals
    }

    /// The `key=value` fields of the first line starting with `prefix`.
    static func fields(_ lines: [String], _ prefix: String) -> [String: String]? {
        guard let line = lines.first(where: { $0.hasPrefix(prefix) }) else { return nil }
        var result: [String: String] = [:]
        for field in line.split(separator: " ") {
            let parts = field.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
        }
        return result
    }

    // MARK: The child's side

    /// The child's scenario for round `index` of the soak seeded with `seed`: returns an exit
    /// status only when it did not die of SIGBUS (1: the touch was served; ``notSetUp``: no
    /// page reached the file; 2: the region could not be made).
    public static func runChild(seed: UInt64, index: Int, directory: String) -> Int32 {
        var plan = SoakRoundPlan(seed: seed, index: index, threads: 1, milliseconds: 0)
        if plan.backend == .zram { plan.backend = .zswapFile }
        plan.workerPages = 48
        plan.quarantinePages = 0
        plan.residentPages = 16
        plan.fileBlocks = 2 * plan.regionPages
        plan.poolPages = plan.backend == .zswapFile ? 8 : 0
        plan.faults = SoakFaultPlan()
        // No reclaim thread moving pages while the child picks one (the default reclaims in
        // the background where two CPUs are free).
        plan.reclaimMode = .inFault
        plan.victimSelection = .default
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = { soakSigbusReportAndDie($0, $1, $2) }
        action.sa_flags = SA_SIGINFO
        sigemptyset(&action.sa_mask)
        sigaction(SIGBUS, &action, nil)

        let pageSize = AnonymousMapping.pageSize
        let backend: RoundBackend
        let region: SwapRegion
        do throws(SoakError) {
            backend = try RoundBackend(plan: plan, directory: directory, pageSize: pageSize)
            // This process dies of SIGBUS without closing the file: its name goes now (the open
            // descriptors keep the file until the process ends).
            if let path = backend.file?.path { _ = unlink(path) }
            do { region = try SwapRegion(plan.regionConfiguration(pageSize: pageSize), backend: backend.backend) } catch {
                throw .setup(round: index, "the region: \(error)")
            }
        } catch {
            say("setup: \(error)")
            return 2
        }
        let base = region.baseAddress
        for p in 0..<plan.regionPages { VersionedPage.fill(base, page: p, version: 1, pageSize: pageSize) }
        var chosen: (page: Int, slot: Int, block: Int)? = nil
        for p in 0..<plan.regionPages {
            if let slot = region.swapSlot(ofPage: p), let block = backend.pushToFile(slot: slot) {
                chosen = (p, slot, block)
                break
            }
        }
        guard let chosen, let permanent = backend.permanent else {
            say("setup: no page reached the file")
            return notSetUp
        }
        var kinds: [SoakFaultPlan.ReadFault] = [.eio, .short]
        if plan.checksums { kinds.append(.corrupt) }
        let kind = kinds[Int(plan.seed % UInt64(kinds.count))]
        let statistics = region.statistics
        watched = Watched(region: region, backend: backend, page: chosen.page, slot: chosen.slot, block: chosen.block)
        permanent.inject(SoakRound.fault(kind), on: .read, when: .block(chosen.block))
        say("before: page=\(chosen.page) slot=\(chosen.slot) block=\(chosen.block) kind=\(kind.rawValue) "
            + "backend=\(plan.backend.rawValue) mode=\(plan.faultMode.rawValue) reads=\(plan.fileReads) policy=\(plan.policy.rawValue) "
            + "retries=\(plan.readRetries) slots_in_use=\(statistics.slotsInUse) failed_faults=\(statistics.failedFaults)")
        // The touch: SIGBUS here.
        let ok = VersionedPage.verify(base, page: chosen.page, version: 1, pageSize: pageSize)
        say("after: served=1 value=\(ok ? "ok" : "wrong")")
        return 1
    }

    /// What the child's SIGBUS handler reports on.
    struct Watched {
        let region: SwapRegion
        let backend: RoundBackend
        let page: Int
        let slot: Int
        let block: Int
    }

    /// Set once by the child before its touch, read by its SIGBUS handler.
    nonisolated(unsafe) static var watched: Watched? = nil

    /// The child's SIGBUS handler: reports the state after the failed fault, then dies of
    /// SIGBUS with the default action. It formats strings (which allocates, not allowed in a
    /// signal handler in general): the interrupted instruction is the child's own load from the
    /// region, never inside malloc, and the process ends right after.
    static func reportAndDie(_ signal: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _ context: UnsafeMutableRawPointer?) {
        let address = info.map { UInt(bitPattern: $0.pointee._sifields._sigfault.si_addr) } ?? 0
        var line = "sigbus: addr=0x\(String(address, radix: 16)) code=\(info?.pointee.si_code ?? 0)"
        if let watched {
            let region = watched.region
            let start = UInt(bitPattern: region.baseAddress) + UInt(watched.page * region.pageSize)
            let statistics = region.statistics
            line += " in_page=\(address >= start && address < start + UInt(region.pageSize) ? 1 : 0)"
            line += " still_swapped=\(region.swapSlot(ofPage: watched.page) == watched.slot ? 1 : 0)"
            line += " held=\(watched.backend.holds(slot: watched.slot, block: watched.block) ? 1 : 0)"
            line += " slots_in_use=\(statistics.slotsInUse) failed_faults=\(statistics.failedFaults)"
            line += " failed_reads=\(statistics.failedReads) retries=\(statistics.readRetries)"
        }
        say(line)
        FatalSignal.endByDefaultAction(SIGBUS)
    }

    /// Writes `text` and a newline straight to standard output (no buffer to lose).
    static func say(_ text: String) { SoakWire.writeLine(text) }
}

/// The C-callable form of ``SoakSigbusRound/reportAndDie(_:_:_:)`` (a closure that names a
/// static method captures its type, which a C function pointer cannot).
private func soakSigbusReportAndDie(_ signal: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _ context: UnsafeMutableRawPointer?) {
    SoakSigbusRound.reportAndDie(signal, info, context)
}
