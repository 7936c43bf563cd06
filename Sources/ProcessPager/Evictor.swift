import CProcessPager
import CUSwap
import PageCodecs
import Synchronization
import SystemPackage
import SystemSupport

/// The pager's control and eviction thread: it accepts agents (a new image's hello with its
/// userfaultfd, a fork child's hello), answers them (fork announcements, drops done, status),
/// and evicts pages while the tree is above its watermark.
///
/// Eviction of a batch, in one session, is asynchronous (the evictor serves other sessions and
/// messages meanwhile):
/// 1. claim victims from the clock (resident -> evicting, under the session's lock) and send
///    the agent one EVICT: drop the scratch half that holds the previous batch (`MADV_DONTNEED`;
///    its remove event is recognised by address), move the victims into the other half
///    (`UFFDIO_MOVE`, one call per contiguous run; the kernel allows it only inside the
///    program's own process), unshare pages fork left shared (`MADV_POPULATE_WRITE`);
/// 2. on EVICT_DONE: read the half with one `process_vm_readv`, compress and store each moved
///    page (zero pages keep no slot), commit evicting -> swapped under the lock, wake any
///    thread that faulted on it meanwhile (it refaults and is swapped in).
/// A moved page's next touch is a missing fault, so no write can land on a page being stored.
/// Pages that cannot move are given back: shared by fork (unshared, tried later), in a mapping
/// that forbids moving (pinned), or gone.
///
/// **Memory and ownership.** The thread owns a 64-page read buffer and a message buffer
/// (``PageBuffer``s) and the sockets of the connections it accepted (closed when they end); its
/// session array holds one reference per session. Nothing is allocated per page.
final class Evictor: @unchecked Sendable {
    // @unchecked Sendable: all state but `core` and `statusProvider` is the evictor thread's.

    private enum Role {
        case unidentified
        case agent(Session)
        case status
    }

    private let core: PagerCore
    private let listener: Int32
    private let epoll: Int32
    private var sessions: [Session?]
    private var roles: [Int32: Role] = [:]
    private var awaitingHello: [Session] = []
    private var live: [Session] = []
    private var pendingChildHellos: [(fd: Int32, hello: uswap_hello)] = []
    private let readBuffer = PageBuffer(pages: Session.pagesPerHalf)
    private let messageBuffer = PageBuffer(pages: 2)
    /// A victim's shared slot decompressed, to compare with the victim (see `holds`).
    private let compareBuffer = PageBuffer(pages: 1)
    private var buffer: UnsafeMutableRawPointer { readBuffer.base }
    private var message: UnsafeMutableRawPointer { messageBuffer.base }
    private var sequence: UInt64 = 0
    private var wakes: [UInt64] = []
    private var requeue: [RingEntry] = []
    private var lastHousekeeping = 0
    private var idleSince = 0
    private let statusProvider: StatusSource

    private static let listenToken: UInt64 = 1 << 40
    private static let commandToken: UInt64 = 1 << 41
    private static let socketToken: UInt64 = 1 << 42
    private static let messageBytes = 2 * 4096

    init(core: PagerCore, listener: Int32, statusProvider: StatusSource) throws(PagerError) {
        self.core = core
        self.listener = listener
        self.statusProvider = statusProvider
        let fd = uswap_epoll_create()
        guard fd >= 0 else { throw .resource("an epoll descriptor", Errno(rawValue: -fd)) }
        epoll = fd
        sessions = Array(repeating: nil, count: RingEntry.sessionLimit)
        wakes.reserveCapacity(Session.pagesPerHalf)
        requeue.reserveCapacity(4 * Session.pagesPerHalf)
        var rc = uswap_epoll_add(epoll, listener, Self.listenToken)
        if rc == 0 { rc = uswap_epoll_add(epoll, core.toEvictor.eventfd, Self.commandToken) }
        guard rc == 0 else {
            uswap_close(epoll)
            throw .resource("the evictor's epoll registration", Errno(rawValue: -rc))
        }
    }

    deinit { uswap_close(epoll) }

    // MARK: The loop

    /// The thread's loop: until the pager stops. Closing every socket at the end tells the
    /// agents of processes still running that the pager is gone (they end themselves).
    func run() {
        cuswap_block_async_signals()
        var tokens = [UInt64](repeating: 0, count: 64)
        var flags = [UInt32](repeating: 0, count: 64)
        var progressed = true
        while !core.evictorStopping.load(ordering: .relaxed) {
            let timeout: Int32 = evictionNeeded() && progressed ? 0 : (evictionNeeded() ? 1 : 50)
            let n = tokens.withUnsafeMutableBufferPointer { t in
                flags.withUnsafeMutableBufferPointer { f in uswap_epoll_wait(epoll, t.baseAddress, f.baseAddress, 64, timeout) }
            }
            for i in 0..<max(0, Int(n)) {
                let token = tokens[i]
                if token == Self.listenToken {
                    acceptConnections()
                } else if token == Self.commandToken {
                    handleCommands()
                } else if token & Self.socketToken != 0 {
                    readConnection(Int32(truncatingIfNeeded: token & 0xFFFF_FFFF), hangUp: flags[i] & 2 != 0)
                }
            }
            let now = MonotonicClock.nanoseconds()
            if now - lastHousekeeping > 100_000_000 {
                lastHousekeeping = now
                housekeeping()
            }
            if evictionNeeded() {
                progressed = startBatches()
                if !progressed && !anyInflight() { noProgress() } else { idleSince = 0 }
            } else {
                progressed = true
                idleSince = 0
                dropIdleHalves()
            }
        }
        for (fd, role) in roles {
            if case .agent(let session) = role { session.socket = -1 }
            uswap_close(fd)
        }
        roles = [:]
        for fd in pendingChildHellos.map(\.fd) { uswap_close(fd) }
        for session in live { releaseScratch(session) }
        sessions = []
        live = []
        awaitingHello = []
    }

    /// Whether the tree is above its watermark (or faults wait for room).
    private func evictionNeeded() -> Bool {
        let cap = core.counters.capPages.load(ordering: .relaxed)
        return core.usedPages > cap - core.configuration.reservePages || core.counters.parked.load(ordering: .relaxed) > 0
    }

    /// Eviction is needed and nothing could be evicted: after 100 ms of that with faults waiting,
    /// they are let over the cap rather than wait forever (every resident page is shared,
    /// pinned, or in a process that cannot be asked to drop). The next batch ends the override.
    private func noProgress() {
        let now = MonotonicClock.nanoseconds()
        if idleSince == 0 { idleSince = now }
        if core.counters.parked.load(ordering: .relaxed) > 0, now - idleSince > 100_000_000,
            !core.counters.capOverride.load(ordering: .relaxed)
        {
            core.counters.capOverride.store(true, ordering: .relaxed)
            core.counters.overrides.add(1, ordering: .relaxed)
            core.toReader.nudge()
        }
    }

    private func handleCommands() {
        for command in core.toEvictor.drain() {
            switch command {
            case .childCreated(let child):
                sessions[child.index] = child
                live.append(child)
                awaitingHello.append(child)
                matchChildHellos()
            case .failed(let index):
                if let session = sessions[index] { endSession(session) }
            }
        }
    }

    /// Orphaned sessions (their agent's socket closed) and children that never said hello end
    /// once their memory is gone (exit or exec).
    private func housekeeping() {
        for session in live where session.socket < 0 {
            if session.processGone() { endSession(session) }
        }
    }

    private func endSession(_ session: Session) {
        guard sessions[session.index] === session else { return }
        sessions[session.index] = nil
        core.processIDs.withLock { _ = $0.removeValue(forKey: session.index) }
        awaitingHello.removeAll { $0 === session }
        if session.socket >= 0 {
            roles[session.socket] = nil
            uswap_close(session.socket)
            session.socket = -1
        }
        releaseScratch(session)
        live.removeAll { $0 === session }
        core.toReader.post(.remove(session.index))
        if core.counters.parked.load(ordering: .relaxed) > 0 { core.toReader.nudge() }
    }

    /// The session's scratch halves no longer count: they died with the process, or the pager
    /// stops (its agent ends the process when the socket closes).
    private func releaseScratch(_ session: Session) {
        core.counters.scratch.subtract(session.pagesInHalf[0] + session.pagesInHalf[1], ordering: .relaxed)
        session.pagesInHalf = [0, 0]
        session.halves = [.free, .free]
        session.inflight = 0
    }

    // MARK: Connections

    private func acceptConnections() {
        while true {
            let fd = uswap_accept(listener)
            if fd < 0 { return }
            var pid: Int32 = 0
            var uid: UInt32 = 0
            if uswap_peer_credentials(fd, &pid, &uid) != 0 || (uid != getuid() && getuid() != 0) {
                uswap_close(fd)
                continue
            }
            roles[fd] = .unidentified
            if uswap_epoll_add(epoll, fd, Self.socketToken | UInt64(UInt32(bitPattern: fd))) != 0 {
                roles[fd] = nil
                uswap_close(fd)
            }
        }
    }

    private func closeConnection(_ fd: Int32) {
        let role = roles.removeValue(forKey: fd)
        _ = uswap_epoll_remove(epoll, fd)
        uswap_close(fd)
        if case .agent(let session)? = role {
            session.socket = -1
            if session.processGone() { endSession(session) }
        }
    }

    private func readConnection(_ fd: Int32, hangUp: Bool) {
        while roles[fd] != nil {
            var passed: Int32 = -1
            let n = uswap_receive_message(fd, message, Self.messageBytes, &passed, 1)
            if n == -Int64(EAGAIN) {
                if hangUp { closeConnection(fd) }
                return
            }
            if n <= 0 {
                if passed >= 0 { uswap_close(passed) }
                closeConnection(fd)
                return
            }
            guard n >= MemoryLayout<uswap_header>.size else {
                if passed >= 0 { uswap_close(passed) }
                continue
            }
            let header = message.load(as: uswap_header.self)
            handleMessage(fd, header: header, length: Int(n), passed: passed)
        }
    }

    private func handleMessage(_ fd: Int32, header: uswap_header, length: Int, passed: Int32) {
        let role = roles[fd]
        switch Int32(bitPattern: header.type) {
        case Int32(USWAP_MSG_HELLO.rawValue) where length == MemoryLayout<uswap_hello>.size:
            let hello = message.load(as: uswap_hello.self)
            if case .unidentified? = role {
                if hello.kind == USWAP_HELLO_FORK_CHILD.rawValue {
                    if passed >= 0 { uswap_close(passed) }
                    pendingChildHellos.append((fd, hello))
                    matchChildHellos()
                } else {
                    welcome(fd, hello: hello, uffd: passed)
                }
                return
            }
        case Int32(USWAP_MSG_STATUS.rawValue):
            roles[fd] = .status
            let text = statusProvider.text()
            sendText(fd, type: USWAP_MSG_STATUS_REPLY.rawValue, text)
        case Int32(USWAP_MSG_DROPPER.rawValue) where length == MemoryLayout<uswap_dropper>.size:
            if case .agent(let session)? = role {
                session.dropperTid.store(message.load(as: uswap_dropper.self).tid, ordering: .relaxed)
            }
        case Int32(USWAP_MSG_EVICT_DONE.rawValue) where length == MemoryLayout<uswap_evict_done>.size:
            if case .agent(let session)? = role { evictDone(session, message.load(as: uswap_evict_done.self)) }
        case Int32(USWAP_MSG_FORK_BEGIN.rawValue):
            if case .agent(let session)? = role {
                // No new batch starts in this process until the fork event is handled; one in
                // flight is committed first, so the snapshot sees every page resident or swapped.
                session.forkPending.add(1, ordering: .acquiringAndReleasing)
                if session.inflight != 0 {
                    session.deferredForkReady.append(header.sequence)
                } else {
                    sendForkReady(session, sequence: header.sequence)
                }
            }
        case Int32(USWAP_MSG_FORK_FAILED.rawValue):
            if case .agent(let session)? = role {
                while true {
                    let pending = session.forkPending.load(ordering: .acquiring)
                    if pending == 0 || session.forkPending.compareExchange(expected: pending, desired: pending - 1, ordering: .acquiringAndReleasing).exchanged {
                        break
                    }
                }
            }
        default:
            break
        }
        if passed >= 0 { uswap_close(passed) }
    }

    private func sendForkReady(_ session: Session, sequence: UInt64) {
        guard session.socket >= 0 else { return }
        var ready = uswap_header(type: USWAP_MSG_FORK_READY.rawValue, length: UInt32(MemoryLayout<uswap_header>.size), sequence: sequence)
        _ = uswap_send_message(session.socket, &ready, MemoryLayout<uswap_header>.size, -1)
    }

    private func sendText(_ fd: Int32, type: UInt32, _ text: String) {
        var reply = uswap_text()
        reply.header.type = type
        reply.header.length = UInt32(MemoryLayout<uswap_text>.size)
        withUnsafeMutableBytes(of: &reply.text) { raw in
            let bytes = Array(text.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        _ = uswap_send_message(fd, &reply, MemoryLayout<uswap_text>.size, -1)
    }

    /// A new program image: makes its session and hands its userfaultfd to the reader.
    private func welcome(_ fd: Int32, hello: uswap_hello, uffd: Int32) {
        let need = UInt64(0x1) | 0x2 | 0x4 | 0x8 | 0x40 | (1 << 16)
        guard uffd >= 0, hello.version == USWAP_PROTOCOL_VERSION, hello.page_size == 4096,
            hello.scratch_pages == UInt32(Session.scratchPages), hello.features & need == need
        else {
            if uffd >= 0 { uswap_close(uffd) }
            refuse(fd, "uswap run and its agent do not match (protocol \(hello.version), features 0x\(String(hello.features, radix: 16))): install libuswap-agent.so from the same build as uswap")
            return
        }
        guard let index = core.indices.take() else {
            uswap_close(uffd)
            refuse(fd, "uswap run manages \(RingEntry.sessionLimit) processes at most; this one was refused")
            return
        }
        let session: Session
        do {
            session = try Session(
                index: index, uffd: uffd, scratchBase: hello.scratch_base, isForkChild: false, parentPid: hello.parent_pid,
                slots: core.slots, indices: core.indices)
        } catch {
            core.indices.give(index)
            uswap_close(uffd)
            refuse(fd, "uswap run cannot reserve a page table for this process (\(error))")
            return
        }
        session.pid.store(hello.pid, ordering: .relaxed)
        core.processIDs.withLock { $0[index] = hello.pid }
        session.socket = fd
        roles[fd] = .agent(session)
        sessions[index] = session
        live.append(session)
        core.counters.sessionsStarted.add(1, ordering: .relaxed)
        core.counters.sessionsLive.add(1, ordering: .relaxed)
        core.counters.pendingBytes.add(Int(hello.pending_bytes), ordering: .relaxed)
        core.toReader.post(.add(session))
        var reply = uswap_welcome()
        reply.header.type = USWAP_MSG_WELCOME.rawValue
        reply.header.length = UInt32(MemoryLayout<uswap_welcome>.size)
        reply.session = UInt32(index)
        reply.flags = core.lazy ? USWAP_WELCOME_REGISTER_WP : 0
        _ = uswap_send_message(fd, &reply, MemoryLayout<uswap_welcome>.size, -1)
    }

    private func refuse(_ fd: Int32, _ reason: String) {
        sendText(fd, type: USWAP_MSG_REFUSE.rawValue, "cannot manage this program: \(reason)")
        closeConnection(fd)
    }

    /// Pairs fork children's hellos with the sessions their fork events made, oldest first per
    /// parent (the agent serialises forks within a process).
    private func matchChildHellos() {
        var i = 0
        while i < pendingChildHellos.count {
            let (fd, hello) = pendingChildHellos[i]
            guard let position = awaitingHello.firstIndex(where: { $0.parentPid == hello.parent_pid }) else {
                i += 1
                continue
            }
            let child = awaitingHello.remove(at: position)
            pendingChildHellos.remove(at: i)
            child.pid.store(hello.pid, ordering: .relaxed)
            core.processIDs.withLock { $0[child.index] = hello.pid }
            child.socket = fd
            roles[fd] = .agent(child)
            var reply = uswap_welcome()
            reply.header.type = USWAP_MSG_WELCOME.rawValue
            reply.header.length = UInt32(MemoryLayout<uswap_welcome>.size)
            reply.session = UInt32(child.index)
            reply.flags = core.lazy ? USWAP_WELCOME_REGISTER_WP : 0
            // The child keeps its own copy of its userfaultfd (faults block, not zero-fill, if
            // the pager dies before the child's agent notices).
            _ = uswap_send_message(fd, &reply, MemoryLayout<uswap_welcome>.size, child.uffd)
        }
    }

    // MARK: Eviction

    /// Whether the evictor may start a batch in `session` now.
    private func ready(_ session: Session) -> Bool {
        session.socket >= 0 && session.inflight == 0 && session.freeHalf != nil
            && session.forkPending.load(ordering: .acquiring) == 0 && session.pid.load(ordering: .relaxed) > 0
    }

    private func anyInflight() -> Bool { live.contains { $0.inflight != 0 } }

    /// Starts a batch in each session that can take one; returns whether any started.
    private func startBatches() -> Bool {
        var started = false
        while live.contains(where: ready), let session = claimBatch() {
            sendEvict(session)
            started = true
            if !evictionNeeded() { break }
        }
        return started
    }

    /// Claims up to a batch of victims, all in one session that is ready; nil when the clock
    /// yields none.
    private func claimBatch() -> Session? {
        let limit = core.configuration.batchPages
        var chosen: Session? = nil
        var claimed = 0
        var popped = 0
        requeue.removeAll(keepingCapacity: true)
        // Entries of other sessions seen meanwhile go back to the tail.
        while claimed < limit && popped < 4 * limit, let entry = core.ring.pop() {
            popped += 1
            guard let session = sessions[entry.session] else {
                // A fork child the reader made and this thread has not heard of yet: keep it.
                if core.indices.isInUse(entry.session) { requeue.append(entry) }
                continue
            }
            let state = session.table.load(entry.page)
            guard state.kind == .resident, state.generation == entry.generation, !state.pinned else { continue }
            if let current = chosen, current !== session {
                requeue.append(entry)
                continue
            }
            guard ready(session) else {
                requeue.append(entry)
                continue
            }
            if state.heat > 0 {
                // Refaulted soon after its last eviction: hot. Once more round the clock.
                if session.table.compareExchange(entry.page, expected: state, desired: state.with(heat: state.heat - 1)).exchanged {
                    core.ring.push(entry)
                    core.counters.secondChances.add(1, ordering: .relaxed)
                }
                continue
            }
            chosen = session
            if claim(session, entry: entry, state: state) { claimed += 1 }
        }
        for entry in requeue { core.ring.push(entry) }
        guard let session = chosen, claimed > 0 else { return nil }
        return session
    }

    /// resident -> evicting, recorded in the session's victim array (under its lock).
    private func claim(_ session: Session, entry: RingEntry, state: PageState) -> Bool {
        session.lock.lock()
        defer { session.lock.unlock() }
        let claimed = state.with(kind: .evicting).with(heat: 0)
        guard session.victimCount < Session.pagesPerHalf,
            session.table.compareExchange(entry.page, expected: state, desired: claimed).exchanged
        else { return false }
        session.victims[session.victimCount] = Victim(
            page: entry.page, generation: state.generation, claimed: claimed, scratchIndex: -1, discarded: false)
        session.victimCount += 1
        return true
    }

    /// Sends the agent an EVICT: drop a holding half, move the claimed victims (if any) into a
    /// free half, unshare the queued pages.
    private func sendEvict(_ session: Session) {
        sequence += 1
        var evict = uswap_evict()
        evict.header.type = USWAP_MSG_EVICT.rawValue
        evict.header.length = UInt32(MemoryLayout<uswap_evict>.size)
        evict.header.sequence = sequence
        evict.drop_half = -1
        evict.move_half = -1
        if let half = session.holdingHalf {
            evict.drop_half = Int32(half)
            evict.drop_pages = UInt32(session.pagesInHalf[half])
            session.halves[half] = .dropping(sequence)
        }
        let count = session.victimCount
        if count > 0, let half = session.freeHalf {
            let victims = UnsafeMutableBufferPointer(start: session.victims, count: count)
            session.lock.withLock {
                var sorted = victims
                sorted.sort { $0.page < $1.page }
            }
            withUnsafeMutableBytes(of: &evict.pages) { raw in
                for i in 0..<count { raw.storeBytes(of: victims[i].page << 12, toByteOffset: i * 8, as: UInt64.self) }
            }
            evict.move_half = Int32(half)
            evict.move_count = UInt32(count)
            session.halves[half] = .moving
            session.inflight = sequence
            session.inflightHalf = half
            core.counters.batches.add(1, ordering: .relaxed)
        }
        evict.unshare_count = UInt32(session.unshare.count)
        withUnsafeMutableBytes(of: &evict.unshare) { raw in
            for (i, address) in session.unshare.enumerated() { raw.storeBytes(of: address, toByteOffset: i * 8, as: UInt64.self) }
        }
        session.unshare.removeAll(keepingCapacity: true)
        if uswap_send_message(session.socket, &evict, MemoryLayout<uswap_evict>.size, -1) != 0 {
            // The agent is gone: its socket's end will end the session. Its victims go back.
            session.inflight = 0
            for v in 0..<count { refuseMove(session, victim: v, errno: ESRCH) }
            session.lock.withLock { session.victimCount = 0 }
        }
    }

    /// When eviction has stopped, a half still holding old copies is dropped.
    private func dropIdleHalves() {
        for session in live where session.socket >= 0 && session.inflight == 0 && session.holdingHalf != nil {
            sendEvict(session)
        }
    }

    /// The agent's answer to an EVICT: a dropped half is free again; moved victims are read,
    /// stored and committed; the others go back to resident.
    private func evictDone(_ session: Session, _ done: uswap_evict_done) {
        let sequence = done.header.sequence
        for half in 0..<2 where session.halves[half] == .dropping(sequence) {
            core.counters.scratch.subtract(session.pagesInHalf[half], ordering: .relaxed)
            session.pagesInHalf[half] = 0
            session.halves[half] = .free
        }
        core.counters.unsharedPages.add(Int(done.unshared), ordering: .relaxed)
        if session.inflight == sequence {
            finishBatch(session, done)
            for ready in session.deferredForkReady { sendForkReady(session, sequence: ready) }
            session.deferredForkReady.removeAll()
        }
        // Pages left the program: the cap holds again.
        core.counters.capOverride.store(false, ordering: .relaxed)
        if core.counters.parked.load(ordering: .relaxed) > 0 { core.toReader.nudge() }
    }

    private func finishBatch(_ session: Session, _ done: uswap_evict_done) {
        let half = session.inflightHalf
        let base = session.halfBase(half)
        let count = session.victimCount
        var results = done.results
        let moved = Int(done.moved)
        withUnsafeBytes(of: &results) { raw in
            for v in 0..<count {
                let result = raw.load(fromByteOffset: v * 4, as: Int32.self)
                if result >= 0 {
                    markMoved(session, victim: v, scratchIndex: Int(result))
                } else {
                    refuseMove(session, victim: v, errno: -result)
                }
            }
        }
        core.counters.scratch.add(moved, ordering: .relaxed)
        session.pagesInHalf[half] = moved
        session.halves[half] = moved > 0 ? .holding : .free
        session.inflight = 0
        var read: Int64 = 0
        if moved > 0 {
            read = uswap_read_process(session.pid.load(ordering: .relaxed), buffer, base, UInt64(moved * 4096))
        }
        // ESRCH: the process ended (or exec'd) with the batch in flight; nothing to keep.
        let gone = read == -Int64(ESRCH) || (read < 0 && session.processGone())
        wakes.removeAll(keepingCapacity: true)
        for v in 0..<count where session.victims[v].scratchIndex >= 0 && !session.victims[v].discarded && !gone {
            if read == Int64(moved * 4096) { store(session, victim: v) } else { lose(session, victim: v) }
        }
        session.lock.withLock { session.victimCount = 0 }
        for address in wakes { _ = cuswap_uffd_wake(session.uffd, address, 4096) }
        wakes.removeAll(keepingCapacity: true)
    }

    /// The page is in the scratch half now: evicting -> evicting + moved.
    private func markMoved(_ session: Session, victim index: Int, scratchIndex: Int) {
        session.lock.lock()
        defer { session.lock.unlock() }
        session.victims[index].scratchIndex = scratchIndex
        let victim = session.victims[index]
        while true {
            let state = session.table.load(victim.page)
            guard state.kind == .evicting, state.generation == victim.generation, !state.moved else {
                // Removed or unmapped meanwhile (the reader already uncounted it).
                session.victims[index].discarded = true
                return
            }
            if session.table.compareExchange(victim.page, expected: state, desired: state.setting(.moved)).exchanged { break }
        }
        session.resident.subtract(1, ordering: .relaxed)
        core.counters.resident.subtract(1, ordering: .relaxed)
    }

    /// The page could not be moved: it stays in the program, resident again.
    private func refuseMove(_ session: Session, victim index: Int, errno error: Int32) {
        session.lock.lock()
        let victim = session.victims[index]
        var requeue = false
        var wake = false
        while true {
            let state = session.table.load(victim.page)
            guard state.kind == .evicting, state.generation == victim.generation, !state.moved else { break }
            var back = state.with(kind: .resident).setting(.wake, false)
            switch error {
            case EBUSY:
                // fork left it shared with a child: the agent makes it exclusive, then it can move.
                requeue = true
            case EINVAL:
                back = back.setting(.pinned)
            default:
                requeue = error != ENOENT
            }
            if session.table.compareExchange(victim.page, expected: state, desired: back).exchanged {
                wake = state.wake
                if error == EBUSY {
                    core.counters.sharedPages.add(1, ordering: .relaxed)
                    if session.unshare.count < Int(USWAP_MAX_UNSHARE) { session.unshare.append(victim.page << 12) }
                } else if error == EINVAL {
                    core.counters.pinnedPages.add(1, ordering: .relaxed)
                }
                break
            }
        }
        session.lock.unlock()
        if requeue { core.ring.push(RingEntry(session: session.index, page: victim.page, generation: victim.generation)) }
        if wake { _ = cuswap_uffd_wake(session.uffd, victim.page << 12, 4096) }
    }

    /// A moved page whose bytes could not be read from the scratch half: accesses get SIGBUS.
    private func lose(_ session: Session, victim index: Int) {
        session.lock.lock()
        let page = session.victims[index].page
        let generation = session.victims[index].generation
        while true {
            let state = session.table.load(page)
            guard state.kind == .evicting, state.generation == generation, state.moved else { break }
            if session.table.compareExchange(page, expected: state, desired: PageState(kind: .lost, slot: nil, generation: generation)).exchanged {
                if state.wake { wakes.append(page << 12) }
                core.counters.lostPages.add(1, ordering: .relaxed)
                break
            }
        }
        session.lock.unlock()
    }

    /// Compresses and stores one moved page, then commits evicting -> swapped.
    private func store(_ session: Session, victim index: Int) {
        let victim = session.victims[index]
        let bytes = UnsafeRawBufferPointer(start: buffer + victim.scratchIndex * 4096, count: 4096)
        var newSlot: Int? = nil
        var sharedWithRelative = false
        var target: PageState
        // A slot the victim kept from a fork's sharing, which it leaves if its bytes changed.
        let sharedSlot = victim.claimed.keepsSharedSlot ? victim.claimed.slot : nil
        if victim.claimed.clean, let slot = victim.claimed.slot {
            // Lazy: the slot already holds these bytes.
            target = PageState(kind: .swapped, slot: slot, generation: victim.generation)
        } else if let slot = sharedSlot, holds(slot, bytes) {
            target = PageState(kind: .swapped, slot: slot, generation: victim.generation)
            core.counters.sharedSlotReuses.add(1, ordering: .relaxed)
        } else if SameFilled.word(of: bytes) == 0 {
            target = PageState(kind: .empty, slot: nil, generation: victim.generation)
        } else if let slot = relativesCopy(of: victim.page, for: session, bytes) {
            newSlot = slot  // a use taken here, given back if the commit finds the page gone
            sharedWithRelative = true
            target = PageState(kind: .swapped, slot: slot, generation: victim.generation)
        } else {
            let slot: Int?
            do { slot = try core.slots.allocate() } catch { slot = nil }
            guard let slot else {
                core.counters.failedWrites.add(1, ordering: .relaxed)
                giveBack(session, victim: index)
                return
            }
            do {
                try core.slots.write(bytes, at: slot)
            } catch {
                core.slots.release(slot, swapIn: false)
                core.counters.failedWrites.add(1, ordering: .relaxed)
                giveBack(session, victim: index)
                return
            }
            newSlot = slot
            target = PageState(kind: .swapped, slot: slot, generation: victim.generation)
        }
        target = target.with(epoch: core.epoch)
        session.lock.lock()
        let page = session.victims[index].page
        var committed = false
        while true {
            let state = session.table.load(page)
            guard state.kind == .evicting, state.generation == victim.generation, state.moved else { break }
            if session.table.compareExchange(page, expected: state, desired: target).exchanged {
                committed = true
                if state.wake { wakes.append(page << 12) }
                break
            }
        }
        session.lock.unlock()
        if committed {
            if let slot = sharedSlot, target.slot != slot { core.slots.release(slot, swapIn: false) }
            core.counters.swapOuts.add(1, ordering: .relaxed)
            core.counters.evictions.add(1, ordering: .relaxed)
            if target.kind == .empty { core.counters.zeroEvictions.add(1, ordering: .relaxed) }
            if sharedWithRelative { core.counters.relativeSlotShares.add(1, ordering: .relaxed) }
        } else if let newSlot {
            // Removed or unmapped while stored: nothing to keep.
            core.slots.release(newSlot, swapIn: false)
        }
    }

    /// A slot that a process related to `session` by fork (its parent, a child) holds for the
    /// same page with exactly `bytes`, now with one more user (this page's); nil when none does.
    /// A page fork left shared and resident in both goes out of each on its own (unshared, then
    /// moved), and the second to go finds the first one's copy here: one compressed copy with two
    /// users, as the kernel's reclaim unmapping it from both leaves one swap slot. The slot is
    /// read from the other session's table without its lock and may be freed meanwhile:
    /// ``SlotSpace/retainIfUsed(_:)`` refuses a free one, and the bytes are compared after the
    /// retain, so a slot handed out again holding other bytes is let go.
    private func relativesCopy(of page: UInt64, for session: Session, _ bytes: UnsafeRawBufferPointer) -> Int? {
        guard live.count > 1 else { return nil }
        let pid = session.pid.load(ordering: .relaxed)
        for other in live where other !== session {
            let related = (session.isForkChild && other.pid.load(ordering: .relaxed) == session.parentPid)
                || (other.isForkChild && pid != 0 && other.parentPid == pid)
            guard related else { continue }
            let state = other.table.load(page)
            guard state.kind == .swapped, let slot = state.slot, core.slots.retainIfUsed(slot) else { continue }
            if holds(slot, bytes) { return slot }
            core.slots.release(slot, swapIn: false)
        }
        return nil
    }

    /// Whether `slot` holds exactly `bytes` (a read that fails holds nothing).
    private func holds(_ slot: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let stored = UnsafeMutableRawBufferPointer(start: compareBuffer.base, count: 4096)
        do { try core.slots.read(slot, into: stored) } catch { return false }
        return memcmp(stored.baseAddress!, bytes.baseAddress!, 4096) == 0
    }

    /// Puts a moved page back into the program (its store failed) from the read buffer with
    /// `UFFDIO_COPY` (moving it back is the agent's to do, and the bytes are here already).
    private func giveBack(_ session: Session, victim index: Int) {
        session.lock.lock()
        defer { session.lock.unlock() }
        let victim = session.victims[index]
        let state = session.table.load(victim.page)
        guard state.kind == .evicting, state.generation == victim.generation, state.moved else { return }
        let address = victim.page << 12
        var copied: Int64 = 0
        var rc: Int32 = EAGAIN
        var wait = SpinWait()
        // EAGAIN: an event is being read by the fault reader (which never waits for this thread).
        while rc == EAGAIN {
            rc = cuswap_uffd_copy(
                session.uffd, address, UInt64(UInt(bitPattern: buffer + victim.scratchIndex * 4096)), 4096, 0, &copied)
            if rc == EAGAIN { wait.spin() }
        }
        guard rc == 0 else { return }
        let back = state.with(kind: .resident).setting(.moved, false).setting(.wake, false)
        if session.table.compareExchange(victim.page, expected: state, desired: back).exchanged {
            if state.wake { wakes.append(address) }
            session.resident.add(1, ordering: .relaxed)
            core.counters.addResident(1)
            core.counters.givenBack.add(1, ordering: .relaxed)
            core.ring.push(RingEntry(session: session.index, page: victim.page, generation: victim.generation))
        }
    }
}
