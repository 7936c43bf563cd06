import CProcessPager
import CUSwap
import Synchronization
import SystemPackage
import SystemSupport

/// A fault held back until eviction makes room under the cap.
/// What became of a fault.
enum FaultOutcome {
    /// The page is in place and the thread woken.
    case served
    /// The thread waits: parked until there is room, or until its page's eviction ends.
    case waiting
    /// The program's memory map is changing (an event not yet read): try again after reading it.
    case retry
}

struct ParkedFault {
    /// The session itself, not its index: an index may be reused by a new process before a
    /// fault of an ended one is taken off the queue.
    var session: Session
    var page: UInt64
    var flags: UInt64
    var tid: UInt32
    var since: Int
}

/// The pager's fault reader: one thread that reads every session's userfaultfd, serves page
/// faults (decompressing straight from the store, `UFFDIO_COPY`) and handles the events that
/// block the program until they are read (fork, remap, remove, unmap).
///
/// It never waits for the evictor or an agent: a fault on a page being evicted is marked and
/// woken by the evictor when the page is stored; a fault over the cap is parked and served when
/// the evictor has made room. So the evictor may wait for an agent whose drop raises a remove
/// event, and that event is always read.
///
/// **Memory and ownership.** The reader owns a page buffer and a zero page (``PageBuffer``), its
/// event arrays and its parked-fault queues (reserved once, never grown in normal operation); its
/// session array holds a reference to each session it serves. The fault path allocates nothing.
final class FaultReader: @unchecked Sendable {
    // @unchecked Sendable: everything but `core` is touched by the reader thread only.

    private let core: PagerCore
    private let epoll: Int32
    private var sessions: [Session?]
    private let pageBuffer = PageBuffer(pages: 1)
    private let zeroBuffer = PageBuffer(pages: 1, zeroed: true)
    private var events = [uswap_uffd_event](repeating: uswap_uffd_event(), count: 64)
    private var tokens = [UInt64](repeating: 0, count: 64)
    private var flags = [UInt32](repeating: 0, count: 64)
    private var parked: [ParkedFault]
    private var parkedHead = 0
    private var retries: [ParkedFault] = []
    private var retrying: [ParkedFault] = []
    private var wakeBuffer: [UInt64] = []
    private static let commandToken: UInt64 = 1 << 40
    private static let parkCapacity = 4096

    init(core: PagerCore) throws(PagerError) {
        self.core = core
        let fd = uswap_epoll_create()
        guard fd >= 0 else { throw .resource("an epoll descriptor", Errno(rawValue: -fd)) }
        epoll = fd
        sessions = Array(repeating: nil, count: RingEntry.sessionLimit)
        parked = []
        parked.reserveCapacity(Self.parkCapacity)
        retries.reserveCapacity(Self.parkCapacity)
        retrying.reserveCapacity(Self.parkCapacity)
        wakeBuffer.reserveCapacity(64)
        pageBuffer.checkInvariants()
        zeroBuffer.checkInvariants()
        let rc = uswap_epoll_add(epoll, core.toReader.eventfd, Self.commandToken)
        guard rc == 0 else { throw .resource("the reader's epoll registration", Errno(rawValue: -rc)) }
    }

    deinit {
        uswap_close(epoll)
    }

    /// The thread's loop: until the pager stops.
    func run() {
        cuswap_block_async_signals()
        let spin = core.configuration.spinMicroseconds * 1000
        var spinUntil = 0
        while !core.readerStopping.load(ordering: .relaxed) {
            let timeout: Int32 = !retries.isEmpty || MonotonicClock.nanoseconds() < spinUntil ? 0 : 100
            let n = tokens.withUnsafeMutableBufferPointer { t in
                flags.withUnsafeMutableBufferPointer { f in uswap_epoll_wait(epoll, t.baseAddress, f.baseAddress, 64, timeout) }
            }
            // A spin that found nothing lets a runnable thread of this CPU have it (the program's
            // own, in a multithreaded program): spinning beside it cost node 20% more wall time.
            if n == 0 && timeout == 0 && retries.isEmpty { uswap_yield() }
            if n > 0 {
                for i in 0..<Int(n) {
                    let token = tokens[i]
                    if token == Self.commandToken {
                        handleCommands()
                    } else if let session = sessions[Int(token)] {
                        readEvents(of: session)
                    }
                }
                spinUntil = MonotonicClock.nanoseconds() + spin
            }
            if !retries.isEmpty { serveRetries() }
            if parkedHead < parked.count { serveParked() }
        }
        for case let session? in sessions { endSession(session) }
        sessions = []
        parked.removeAll()
        retries.removeAll()
        retrying.removeAll()
    }

    // MARK: Commands

    private func handleCommands() {
        for command in core.toReader.drain() {
            switch command {
            case .add(let session):
                sessions[session.index] = session
                let rc = uswap_epoll_add(epoll, session.uffd, UInt64(session.index))
                if rc != 0 { core.toEvictor.post(.failed(session.index)) }
            case .remove(let index):
                if let session = sessions[index] { endSession(session) }
                sessions[index] = nil
            }
        }
    }

    private func endSession(_ session: Session) {
        session.endedForReader = true
        _ = uswap_epoll_remove(epoll, session.uffd)
        // The process's pages died with it: they no longer count against the cap.
        let pages = session.resident.exchange(0, ordering: .relaxed)
        core.counters.resident.subtract(pages, ordering: .relaxed)
        core.counters.sessionsLive.subtract(1, ordering: .relaxed)
    }

    // MARK: Messages

    /// Reads and handles `session`'s messages until none is pending (at most 1,024, so other
    /// sessions get their turn). Reading again right away usually finds the program's next fault:
    /// the page just installed woke it, it ran on this CPU and faulted again, and the reader got
    /// the CPU back; that saves an epoll_wait per fault.
    private func readEvents(of session: Session) {
        var handled = 0
        while handled < 1024 {
            let count = events.withUnsafeMutableBufferPointer { uswap_uffd_read_events(session.uffd, $0.baseAddress, 64) }
            if count == -EAGAIN || count == 0 { return }
            if count < 0 {
                _ = uswap_epoll_remove(epoll, session.uffd)
                core.toEvictor.post(.failed(session.index))
                return
            }
            for i in 0..<Int(count) {
                let event = events[i]
                switch event.event {
                case uswap_event_pagefault:
                    let started = MonotonicClock.nanoseconds()
                    if event.flags & uswap_pagefault_flag_wp != 0 {
                        core.counters.writeProtectFaults.add(1, ordering: .relaxed)
                    } else {
                        core.counters.missingFaults.add(1, ordering: .relaxed)
                    }
                    dispatch(session, page: event.address >> 12, flags: event.flags, tid: event.tid, since: started, mayPark: true)
                case uswap_event_remove, uswap_event_unmap:
                    remove(session, from: event.address, to: event.end, unmap: event.event == uswap_event_unmap)
                case uswap_event_remap:
                    remap(session, from: event.address, to: event.end, length: event.length)
                case uswap_event_fork:
                    fork(session, childDescriptor: event.fork_fd)
                default:
                    break
                }
            }
            handled += Int(count)
        }
    }

    // MARK: Faults

    /// Serves a fault and files it by its outcome: latency recorded, or kept for a retry.
    @inline(__always)
    private func dispatch(_ session: Session, page: UInt64, flags: UInt64, tid: UInt32, since: Int, mayPark: Bool) {
        switch serve(session, page: page, flags: flags, tid: tid, since: since, mayPark: mayPark) {
        case .served:
            core.latency.record(nanoseconds: UInt64(MonotonicClock.nanoseconds() - since))
        case .waiting:
            break
        case .retry:
            retries.append(ParkedFault(session: session, page: page, flags: flags, tid: tid, since: since))
        }
    }

    /// Faults whose install met a changing memory map: the event that changes it has been read by
    /// now (or will be on the next pass), so they are served again.
    private func serveRetries() {
        swap(&retries, &retrying)
        for fault in retrying {
            let session = fault.session
            guard !session.endedForReader else { continue }
            dispatch(session, page: fault.page, flags: fault.flags, tid: fault.tid, since: fault.since, mayPark: false)
        }
        retrying.removeAll(keepingCapacity: true)
    }

    /// Whether a fault must wait for room under the cap.
    @inline(__always)
    private func mustPark(_ session: Session, tid: UInt32) -> Bool {
        if core.usedPages < core.counters.capPages.load(ordering: .relaxed) { return false }
        if core.counters.capOverride.load(ordering: .relaxed) { return false }
        if tid != 0 && Int32(bitPattern: tid) == session.dropperTid.load(ordering: .relaxed) { return false }
        return parked.count - parkedHead < Self.parkCapacity
    }

    private func park(_ session: Session, page: UInt64, flags: UInt64, tid: UInt32, since: Int) {
        if parkedHead == parked.count {
            parked.removeAll(keepingCapacity: true)
            parkedHead = 0
        }
        parked.append(ParkedFault(session: session, page: page, flags: flags, tid: tid, since: since))
        if core.counters.parked.add(1, ordering: .relaxed).newValue == 1 { core.toEvictor.nudge() }
        core.counters.parkedFaults.add(1, ordering: .relaxed)
    }

    /// Serves parked faults in arrival order while there is room (or the cap is overridden).
    private func serveParked() {
        let counters = core.counters
        while parkedHead < parked.count {
            if core.usedPages >= counters.capPages.load(ordering: .relaxed) && !counters.capOverride.load(ordering: .relaxed) {
                return
            }
            let fault = parked[parkedHead]
            parkedHead += 1
            counters.parked.subtract(1, ordering: .relaxed)
            let session = fault.session
            guard !session.endedForReader else { continue }
            dispatch(session, page: fault.page, flags: fault.flags, tid: fault.tid, since: fault.since, mayPark: false)
        }
        // Drained: let the served entries (and the sessions they hold) go.
        parked.removeAll(keepingCapacity: true)
        parkedHead = 0
    }

    /// Serves one fault.
    @inline(__always)
    private func serve(_ session: Session, page: UInt64, flags: UInt64, tid: UInt32, since: Int, mayPark: Bool) -> FaultOutcome {
        let address = page << 12
        let zeroPage = zeroBuffer.base
        let buffer = pageBuffer.base
        let counters = core.counters
        let writeProtectFault = flags & uswap_pagefault_flag_wp != 0
        if session.inScratch(address) || !PageTable.contains(page: page) {
            // Not a page of the program's heap: the agent's scratch area (never touched by the
            // program), or beyond the table. Zeros keep the thread going.
            return install(session, address: address, from: zeroPage, writeProtected: false) == -EAGAIN ? .retry : .served
        }
        let table = session.table
        while true {
            let state = table.load(page)
            switch state.kind {
            case .empty, .swapped:
                if writeProtectFault { return unprotect(session, address: address) }
                if mayPark && mustPark(session, tid: tid) {
                    park(session, page: page, flags: flags, tid: tid, since: since)
                    return .waiting
                }
                if state.kind == .swapped { return swapIn(session, page: page, state: state) }
                let installed = install(session, address: address, from: zeroPage, writeProtected: false)
                if installed == -EAGAIN { return .retry }
                if installed == -ESRCH || installed == -ENOENT { return .served }
                let resident = PageState(kind: .resident, slot: nil, generation: state.nextGeneration)
                guard table.compareExchange(page, expected: state, desired: resident).exchanged else { continue }
                becameResident(session, page: page, generation: resident.generation)
                if installed == 0 { counters.zeroFills.add(1, ordering: .relaxed) }
                return .served

            case .resident:
                if writeProtectFault {
                    if state.clean {
                        // The first write to a clean page: its slot is stale. During a fork
                        // window the slot stays for the child (the snapshot frees it).
                        var dirty = state.setting(.clean, false)
                        if !state.forkWindow { dirty = dirty.with(slot: nil) }
                        guard table.compareExchange(page, expected: state, desired: dirty).exchanged else { continue }
                        if !state.forkWindow, let slot = state.slot { core.slots.release(slot, swapIn: false) }
                    }
                    return unprotect(session, address: address)
                }
                // Another thread's fault brought the page in first: installing fails with
                // EEXIST, and a wake lets the thread retry.
                let source: UnsafeMutableRawPointer
                if state.clean, let slot = state.slot, readSlot(slot) {
                    source = buffer
                } else {
                    source = zeroPage
                }
                let installed = install(session, address: address, from: source, writeProtected: state.clean)
                if installed == -EAGAIN { return .retry }
                if installed == -EEXIST {
                    _ = cuswap_uffd_wake(session.uffd, address, 4096)
                    counters.duplicateFaults.add(1, ordering: .relaxed)
                } else if installed == 0 {
                    counters.unexpectedMissing.add(1, ordering: .relaxed)
                }
                return .served

            case .evicting:
                // The page is (or is about to be) out of the program: the evictor wakes this
                // thread when it is stored or given back.
                if state.wake { return .waiting }
                guard table.compareExchange(page, expected: state, desired: state.setting(.wake)).exchanged else { continue }
                counters.waitedOnEviction.add(1, ordering: .relaxed)
                return .waiting

            case .lost:
                return cuswap_uffd_poison(session.uffd, address, 4096) == EAGAIN ? .retry : .served
            }
        }
    }

    /// Clears write protection on one page (which wakes the writer).
    @inline(__always)
    private func unprotect(_ session: Session, address: UInt64) -> FaultOutcome {
        cuswap_uffd_writeprotect(session.uffd, address, 4096, 0, 0) == EAGAIN ? .retry : .served
    }

    /// Reads `slot` into the page buffer; false (counted) when the store cannot give it back.
    @inline(__always)
    private func readSlot(_ slot: Int) -> Bool {
        do {
            try core.slots.read(slot, into: UnsafeMutableRawBufferPointer(start: pageBuffer.base, count: 4096))
            return true
        } catch {
            core.counters.failedReads.add(1, ordering: .relaxed)
            return false
        }
    }

    private func swapIn(_ session: Session, page pageNumber: UInt64, state: PageState) -> FaultOutcome {
        let address = pageNumber << 12
        guard let slot = state.slot else {
            // A swapped state always has a slot (zero pages become empty).
            session.table.store(pageNumber, .empty)
            return serve(session, page: pageNumber, flags: 0, tid: 0, since: 0, mayPark: false)
        }
        guard readSlot(slot) else {
            // As the kernel does for a swap page it cannot read: the access raises SIGBUS.
            return cuswap_uffd_poison(session.uffd, address, 4096) == EAGAIN ? .retry : .served
        }
        let forkWindow = session.forkPending.load(ordering: .acquiring) > 0
        // A slot a fork shared stays this page's too (the kernel's swap cache keeps it as well):
        // evicted unchanged, the page goes back to it rather than into a second slot.
        let sharedSlot = !core.lazy && !forkWindow && core.slots.useCount(slot) > 1
        let keepSlot = core.lazy || forkWindow || sharedSlot
        let installed = install(session, address: address, from: pageBuffer.base, writeProtected: core.lazy)
        if installed == -EAGAIN { return .retry }
        if installed == -ESRCH || installed == -ENOENT { return .served }
        if installed == -EEXIST { core.counters.unexpectedMissing.add(1, ordering: .relaxed) }
        var resident = PageState(kind: .resident, slot: keepSlot ? slot : nil, generation: state.nextGeneration)
        if core.lazy && installed == 0 { resident = resident.setting(.clean) }
        if forkWindow { resident = resident.setting(.forkWindow) }
        let heat = core.refaultHeat(distance: (core.epoch &- state.epoch) & 0x7FFF)
        if heat > 0 {
            resident = resident.with(heat: heat)
            core.counters.refaults.add(1, ordering: .relaxed)
        }
        session.table.store(pageNumber, resident)
        if !keepSlot { core.slots.release(slot, swapIn: true) }
        becameResident(session, page: pageNumber, generation: resident.generation)
        core.counters.swapIns.add(1, ordering: .relaxed)
        return .served
    }

    /// UFFDIO_COPY of one page; 0 or -errno (-EAGAIN: the memory map is changing: an event is
    /// waiting to be read, and retrying before reading it would never succeed).
    @inline(__always)
    private func install(_ session: Session, address: UInt64, from source: UnsafeMutableRawPointer, writeProtected: Bool) -> Int32 {
        var copied: Int64 = 0
        let mode = writeProtected ? cuswap_copy_mode_wp : 0
        let rc = cuswap_uffd_copy(session.uffd, address, UInt64(UInt(bitPattern: source)), 4096, mode, &copied)
        return rc == 0 ? 0 : -rc
    }

    @inline(__always)
    private func becameResident(_ session: Session, page: UInt64, generation: UInt8) {
        session.resident.add(1, ordering: .relaxed)
        core.counters.addResident(1)
        core.ring.push(RingEntry(session: session.index, page: page, generation: generation))
    }

    // MARK: Events

    /// The program gave pages back (madvise) or unmapped them: their slots go, and the next
    /// touch reads zeros. A remove inside the scratch area is the agent's own drop.
    private func remove(_ session: Session, from start: UInt64, to end: UInt64, unmap: Bool) {
        if !unmap && session.inScratch(start) { return }
        let first = start >> 12
        let last = (end + 4095) >> 12
        wakeBuffer.removeAll(keepingCapacity: true)
        session.table.forEachNonEmpty(in: first..<last) { page, _ in
            clear(session, page: page)
        }
        for address in wakeBuffer { _ = cuswap_uffd_wake(session.uffd, address, 4096) }
    }

    /// Empties one page's state, releasing what it held.
    private func clear(_ session: Session, page: UInt64) {
        let table = session.table
        while true {
            let state = table.load(page)
            if state.rawValue == 0 { return }
            guard table.compareExchange(page, expected: state, desired: .empty).exchanged else { continue }
            switch state.kind {
            case .resident:
                session.resident.subtract(1, ordering: .relaxed)
                core.counters.resident.subtract(1, ordering: .relaxed)
            case .evicting where !state.moved:
                session.resident.subtract(1, ordering: .relaxed)
                core.counters.resident.subtract(1, ordering: .relaxed)
            default:
                break
            }
            // A slot named by the state belongs to the state (the evictor's new slots are its
            // own until it commits them).
            if let slot = state.slot { core.slots.release(slot, swapIn: false) }
            if state.wake, wakeBuffer.count < 64 { wakeBuffer.append(page << 12) }
            core.counters.removedPages.add(1, ordering: .relaxed)
            return
        }
    }

    /// The program moved pages with mremap: their states (and any victim the evictor holds)
    /// move with them.
    private func remap(_ session: Session, from: UInt64, to: UInt64, length: UInt64) {
        let source = from >> 12
        let destination = to >> 12
        let count = (length + 4095) >> 12
        guard PageTable.contains(page: destination + count) else {
            session.table.forEachNonEmpty(in: source..<(source + count)) { page, _ in clear(session, page: page) }
            return
        }
        session.lock.lock()
        defer { session.lock.unlock() }
        let table = session.table
        var moves: [(UInt64, PageState)] = []
        table.forEachNonEmpty(in: source..<(source + count)) { page, _ in
            while true {
                let state = table.load(page)
                if table.compareExchange(page, expected: state, desired: .empty).exchanged {
                    moves.append((page, state))
                    return
                }
            }
        }
        for (page, state) in moves {
            let target = page - source + destination
            if table.load(target).rawValue != 0 { clear(session, page: target) }
            table.store(target, state)
            switch state.kind {
            case .resident:
                core.ring.push(RingEntry(session: session.index, page: target, generation: state.generation))
            case .evicting:
                for i in 0..<session.victimCount where session.victims[i].page == page {
                    session.victims[i].page = target
                }
            default:
                break
            }
            core.counters.remappedPages.add(1, ordering: .relaxed)
        }
    }

    /// A fork: the child's userfaultfd arrived; its pages start as the parent's were at the fork
    /// (swapped pages share the parent's slots, the kernel's swap_duplicate).
    private func fork(_ parent: Session, childDescriptor: Int32) {
        core.counters.forks.add(1, ordering: .relaxed)
        let announced = parent.forkPending.load(ordering: .acquiring) > 0
        if !announced { core.counters.unannouncedForks.add(1, ordering: .relaxed) }
        guard childDescriptor >= 0, let index = core.indices.take() else {
            if childDescriptor >= 0 { uswap_close(childDescriptor) }
            finishFork(parent)
            return
        }
        let child: Session
        do {
            child = try Session(
                index: index, uffd: childDescriptor, scratchBase: parent.scratchBase, isForkChild: true,
                parentPid: parent.pid.load(ordering: .relaxed), slots: core.slots, indices: core.indices)
        } catch {
            core.indices.give(index)
            uswap_close(childDescriptor)
            finishFork(parent)
            return
        }
        let slots = core.slots
        var childResident = 0
        var lost = 0
        parent.lock.lock()
        parent.table.forEachNonEmpty { page, state in
            switch state.kind {
            case .swapped:
                if let slot = state.slot {
                    slots.retain(slot)
                    child.table.store(page, PageState(kind: .swapped, slot: slot, generation: 0).with(epoch: state.epoch))
                }
            case .resident:
                if state.forkWindow, let slot = state.slot {
                    // Swapped in during the fork window: the child's mapping never had it.
                    slots.retain(slot)
                    child.table.store(page, PageState(kind: .swapped, slot: slot, generation: 0).with(epoch: state.epoch))
                    var kept = state.setting(.forkWindow, false)
                    if !state.clean { kept = kept.with(slot: nil) }
                    if parent.table.compareExchange(page, expected: state, desired: kept).exchanged, !state.clean {
                        slots.release(slot, swapIn: true)
                    }
                } else {
                    var shared = PageState(kind: .resident, slot: nil, generation: 1)
                    if state.clean, let slot = state.slot {
                        slots.retain(slot)
                        shared = PageState(kind: .resident, slot: slot, generation: 1).setting(.clean)
                    }
                    child.table.store(page, shared)
                    core.ring.push(RingEntry(session: child.index, page: page, generation: 1))
                    childResident += 1
                }
            case .evicting:
                if state.moved {
                    child.table.store(page, PageState(kind: .lost, slot: nil))
                    lost += 1
                } else {
                    child.table.store(page, PageState(kind: .resident, slot: nil, generation: 1))
                    core.ring.push(RingEntry(session: child.index, page: page, generation: 1))
                    childResident += 1
                }
            case .lost:
                child.table.store(page, PageState(kind: .lost, slot: nil))
            case .empty:
                break
            }
        }
        parent.lock.unlock()
        finishFork(parent)
        child.resident.store(childResident, ordering: .relaxed)
        core.counters.addResident(childResident)
        core.counters.lostPages.add(lost, ordering: .relaxed)
        core.counters.sessionsStarted.add(1, ordering: .relaxed)
        core.counters.sessionsLive.add(1, ordering: .relaxed)
        sessions[child.index] = child
        if uswap_epoll_add(epoll, child.uffd, UInt64(child.index)) != 0 {
            core.toEvictor.post(.failed(child.index))
        }
        core.toEvictor.post(.childCreated(child))
    }

    private func finishFork(_ parent: Session) {
        while true {
            let pending = parent.forkPending.load(ordering: .acquiring)
            if pending == 0 { return }
            if parent.forkPending.compareExchange(expected: pending, desired: pending - 1, ordering: .acquiringAndReleasing).exchanged {
                return
            }
        }
    }
}
