import PageStore
import Synchronization
import SystemSupport

/// Cold compressed pages in a Redis Cluster: a `PageTier` whose objects are keys spread over
/// the cluster's masters, replicated before they count as stored, read back in one round trip,
/// and removed when freed, when the run closes, or by gc once the run is gone.
///
/// ```swift
/// let tier = try RedisTier(try RedisTierConfiguration(url: "redis://127.0.0.1:7100"))
/// var batch = PageTierBatch(capacity: 32, maxObjectSize: tier.maxObjectSize)
/// try batch.append(compressedPage)
/// try tier.write(&batch)
/// if let handle = batch.handle(at: 0) {
///     let length = try tier.read(handle, into: buffer)   // the same bytes, checksum verified
///     tier.free([handle])
/// }
/// try tier.close()                                        // no key of the run is left
/// ```
///
/// **Keys.** `PREFIX:RUN:HANDLE` (``TierNamespace``): the run part is unique to this tier, the
/// handle is a counter that never repeats, so a write that timed out and lands late can never
/// overwrite a newer page. No hash tag: the keys spread over every slot and master.
///
/// **Writes** go out as one pipeline per master (SETs, then `WAIT replicas timeout`), every
/// master's before any reply is read. A page is acknowledged only when its master said OK and
/// WAIT counted ``RedisTierConfiguration/replicas`` replicas; anything less (a node down, a
/// failover, WAIT short, out of memory) leaves it unacknowledged: the caller keeps it and writes
/// it again later. The keys such a write may have left are deleted in the background.
///
/// **Reads** are one GET to the slot's master; when it does not answer, its replicas (every
/// connection is READONLY), then the master again, with backoff, for
/// ``readRetryMilliseconds``; MOVED and ASK are followed. Every value's CRC-32C (over key and
/// object) is verified. A read that cannot be served throws and frees nothing.
///
/// **Frees** are queued and sent as pipelined UNLINKs by the maintenance thread, which also
/// refreshes the run's lease (`PREFIX:RUN`, with a TTL) and the topology when asked to.
///
/// **Threads.** Every method may be called from any thread, concurrently, but never from a
/// signal handler (they lock, allocate connections and block on sockets).
public final class RedisTier: PageTier, Sendable {
    /// The settings it was made with.
    public let configuration: RedisTierConfiguration
    /// The run's keys.
    public let namespace: TierNamespace
    /// The largest object it stores.
    public var maxObjectSize: Int { configuration.maxObjectSize }
    /// Handles are never reused (a late write must not overwrite a newer page).
    public var handlesAreReused: Bool { false }
    /// Sockets, connection pools and allocation: never from a signal handler.
    public var isAsyncSignalSafe: Bool { false }
    /// The cluster's cluster-node-timeout (15000 when CONFIG GET is not allowed).
    public let clusterNodeTimeoutMilliseconds: Int
    /// How long a read retries before it throws `PageTierError.unavailable(_:)`.
    public let readRetryMilliseconds: Int

    let client: ClusterClient
    let counters = RedisTierCounters()
    private let pipeline: Pipeline
    private let nextHandle = Atomic<UInt64>(1)
    private let contexts: Mutex<[PipelineContext]>
    private let frees: Mutex<FreeQueue>
    private let queuedFrees = Atomic<Int>(0)
    /// Why the last flush left frees queued.
    private let lastFreeFailure = Mutex<RedisTierError?>(nil)
    /// Held while frees are being sent: one flush at a time.
    private let flushing = Mutex<Void>(())
    private let isClosed = Atomic<Bool>(false)
    private let maintenance = MaintenanceState()
    private let lease: Lease

    /// Connects to the cluster, checks it (every slot served; every node in cluster mode with
    /// maxmemory-policy noeviction), reads its cluster-node-timeout, takes the run's lease and
    /// starts the maintenance thread.
    ///
    /// - Throws: ``RedisTierError/invalidConfiguration(_:)``, ``RedisTierError/unreachable(_:)``
    ///   when no seed answers, ``RedisTierError/notACluster(node:)``,
    ///   ``RedisTierError/evictionPolicy(node:policy:)``,
    ///   ``RedisTierError/incompleteCoverage(unservedSlots:)``, or the error that kept the lease
    ///   from being written.
    public init(_ configuration: RedisTierConfiguration) throws(RedisTierError) {
        if let problem = configuration.problem { throw .invalidConfiguration(problem) }
        self.configuration = configuration
        namespace = try TierNamespace.unique(prefix: configuration.keyPrefix, label: configuration.label)
        let settings = ConnectionSettings(
            connectTimeoutNanoseconds: configuration.connectTimeoutMilliseconds * 1_000_000,
            ioTimeoutNanoseconds: configuration.ioTimeoutMilliseconds * 1_000_000,
            downNanoseconds: max(200, configuration.ioTimeoutMilliseconds) * 1_000_000,
            bufferCapacity: max(64 << 10, 2 * (configuration.maxObjectSize + PageValue.headerSize + 256)),
            maxIdleConnections: configuration.maxIdleConnectionsPerNode)
        client = ClusterClient(seeds: configuration.seeds, settings: settings, counters: counters)
        let topology = try client.refresh()
        let unserved = topology.unservedSlots
        if unserved > 0 { throw .incompleteCoverage(unservedSlots: unserved) }
        // Check every node now (a replica is a master after a failover), not on first use.
        for node in topology.nodes {
            do {
                let connection = try node.acquire(counters: counters)
                node.release(connection)
            } catch {
                switch error {
                case .notACluster, .evictionPolicy: throw error
                default: node.markDown()  // down now; checked when it is first used
                }
            }
        }
        clusterNodeTimeoutMilliseconds = client.configValue("cluster-node-timeout").flatMap { Int($0) } ?? 15_000
        readRetryMilliseconds = configuration.readRetryMilliseconds ?? (2 * clusterNodeTimeoutMilliseconds + 2_000)
        pipeline = Pipeline(
            client: client, namespace: namespace, counters: counters, replicas: configuration.replicas,
            waitTimeoutMilliseconds: configuration.waitTimeoutMilliseconds)
        var pool: [PipelineContext] = []
        pool.reserveCapacity(16)
        contexts = Mutex(pool)
        frees = Mutex(FreeQueue(capacity: configuration.freeQueueCapacity))
        lease = Lease(key: namespace.leaseKey, ttlMilliseconds: configuration.leaseTTLMilliseconds)
        try lease.refresh(client, counters: counters)
        startMaintenance()
    }

    deinit {
        // Not closed: the thread ends at its next tick; the run's keys go when its lease expires.
        maintenance.stop.store(true, ordering: .relaxed)
    }

    // MARK: PageTier

    /// Stores the batch's objects: pipelined SETs per master with WAIT for
    /// ``RedisTierConfiguration/replicas`` replicas. Each object is acknowledged with a handle,
    /// or left with the caller (`PageTierBatch.failure` says why: a node down, WAIT short, the
    /// cluster full, a failover in progress).
    ///
    /// - Throws: `PageTierError.objectTooLarge(size:limit:)` for a batch made for objects
    ///   larger than ``maxObjectSize``; `PageTierError.closed`.
    public func write(_ batch: inout PageTierBatch) throws(PageTierError) {
        guard !isClosed.load(ordering: .relaxed) else { throw .closed }
        guard batch.maxObjectSize <= maxObjectSize else {
            throw .objectTooLarge(size: batch.maxObjectSize, limit: maxObjectSize)
        }
        batch.resetResults()
        guard batch.count > 0 else { return }
        let context = takeContext()
        defer { giveBack(context) }
        var refused = 0
        var start = 0
        while start < batch.count {
            let n = min(context.capacity, batch.count - start)
            context.reset()
            let first = nextHandle.wrappingAdd(UInt64(n), ordering: .relaxed).oldValue
            for k in 0..<n {
                let handle = first + UInt64(k)
                let slot = TierNamespace.withSuffix(handle) { namespace.slot(suffix: $0) }
                context.add(handle: handle, slot: slot, object: batch.object(at: start + k))
            }
            pipeline.run(context, kind: .set)
            var acknowledgedBytes = 0
            for k in 0..<n {
                let op = context.operations[k]
                if op.state == .done {
                    batch.acknowledge(start + k, as: PageTierHandle(rawValue: op.handle))
                    acknowledgedBytes += op.length
                } else {
                    refused += 1
                    // It may land anyway (a node that answers late): delete it in the background.
                    if op.everSent { enqueueFree(op.handle | FreeQueue.cleanupBit) }
                }
            }
            if batch.failure == nil, let failure = context.failure {
                batch.failure = .notAcknowledged(failure.description)
            }
            counters.bytesWritten.add(acknowledgedBytes, ordering: .relaxed)
            start += n
        }
        let acknowledged = batch.count - refused
        counters.acknowledgedWrites.add(acknowledged, ordering: .relaxed)
        counters.storedObjects.add(acknowledged, ordering: .relaxed)
        counters.refusedWrites.add(refused, ordering: .relaxed)
    }

    /// Reads the page stored under `handle` into `buffer` and returns its length, after checking
    /// its checksum. Retries (replicas, redirects, a failover) for ``readRetryMilliseconds``.
    ///
    /// - Throws: `PageTierError.unavailable(_:)` when no node served it in time,
    ///   `PageTierError.missing(handle:)`, `PageTierError.corrupt(handle:reason:)`,
    ///   `PageTierError.bufferTooSmall(needed:available:)`, `PageTierError.closed`. Nothing is
    ///   freed; the buffer's contents are unspecified.
    public func read(_ handle: PageTierHandle, into buffer: UnsafeMutableRawBufferPointer) throws(PageTierError) -> Int {
        guard !isClosed.load(ordering: .relaxed) else { throw .closed }
        do {
            let length = try TierNamespace.withSuffix(handle.rawValue) { (suffix) throws(PageTierError) -> Int in
                try readWithRetries(handle, suffix: suffix, into: buffer)
            }
            counters.reads.add(1, ordering: .relaxed)
            counters.bytesRead.add(length, ordering: .relaxed)
            return length
        } catch {
            counters.failedReads.add(1, ordering: .relaxed)
            throw error
        }
    }

    /// Queues the keys of `handles` for deletion (pipelined UNLINKs from the maintenance thread;
    /// from this thread when the queue is three quarters full).
    public func free(_ handles: UnsafeBufferPointer<PageTierHandle>) {
        guard !handles.isEmpty else { return }
        counters.storedObjects.subtract(handles.count, ordering: .relaxed)
        var dropped = 0
        let queued = frees.withLock { queue -> Int in
            for handle in handles where !queue.push(handle.rawValue) { dropped += 1 }
            return queue.count
        }
        queuedFrees.store(queued, ordering: .relaxed)
        if dropped > 0 { counters.abandonedFrees.add(dropped, ordering: .relaxed) }
        if queued >= configuration.freeQueueCapacity / 4 * 3 { flushFrees() }
    }

    /// The counters every tier has.
    public var tierStatistics: PageTierStatistics { statistics.tier }

    /// Every counter, the cluster's own included.
    public var statistics: RedisTierStatistics {
        counters.snapshot(pendingFrees: queuedFrees.load(ordering: .relaxed))
    }

    /// The key a handle's page is stored under (for people and tools; pages do not go through it).
    public func key(for handle: PageTierHandle) -> String { namespace.key(for: handle) }

    // MARK: Frees

    /// Why the last ``flushFrees()`` left frees queued (the node that did not take them), or
    /// `nil` when the last one sent everything.
    public var lastFreeProblem: RedisTierError? { lastFreeFailure.withLock { $0 } }

    /// Sends every queued free now, as pipelined UNLINKs (after any flush already running, so
    /// when it returns every free queued before the call was tried); returns how many are still
    /// queued (their nodes did not answer: they are retried later).
    @discardableResult
    public func flushFrees() -> Int {
        flushing.withLock { _ in flushQueuedFrees() }
    }

    private func flushQueuedFrees() -> Int {
        let context = takeContext()
        defer { giveBack(context) }
        var rounds = 0
        while rounds < 1 + configuration.freeQueueCapacity / context.capacity {
            rounds += 1
            context.reset()
            frees.withLock { queue in
                while context.count < context.capacity, let entry = queue.pop() {
                    let handle = entry & ~FreeQueue.cleanupBit
                    let slot = TierNamespace.withSuffix(handle) { namespace.slot(suffix: $0) }
                    context.add(handle: handle, slot: slot, object: nil)
                    // An UNLINK has no object: its length marks a refused write's cleanup.
                    if entry & FreeQueue.cleanupBit != 0 { context.operations[context.count - 1].length = 1 }
                }
            }
            if context.count == 0 {
                lastFreeFailure.withLock { $0 = nil }
                break
            }
            pipeline.run(context, kind: .unlink)
            var failed = 0
            var freed = 0
            frees.withLock { queue in
                for i in 0..<context.count {
                    let op = context.operations[i]
                    if op.state == .done {
                        if op.length == 0 { freed += 1 }
                    } else if !queue.push(op.handle | (op.length == 0 ? 0 : FreeQueue.cleanupBit)) {
                        counters.abandonedFrees.add(1, ordering: .relaxed)
                    } else {
                        failed += 1
                    }
                }
                queuedFrees.store(queue.count, ordering: .relaxed)
            }
            counters.frees.add(freed, ordering: .relaxed)
            if failed > 0 {
                lastFreeFailure.withLock { $0 = context.failure }
                break  // the cluster is not taking them now: try again later
            }
        }
        return queuedFrees.load(ordering: .relaxed)
    }

    private func enqueueFree(_ entry: UInt64) {
        let pushed = frees.withLock { queue -> Bool in
            let pushed = queue.push(entry)
            queuedFrees.store(queue.count, ordering: .relaxed)
            return pushed
        }
        if !pushed { counters.abandonedFrees.add(1, ordering: .relaxed) }
    }

    // MARK: Contexts

    private func takeContext() -> PipelineContext {
        contexts.withLock { $0.popLast() } ?? PipelineContext(capacity: configuration.pipelineDepth)
    }

    private func giveBack(_ context: PipelineContext) {
        context.reset()
        contexts.withLock { pool in
            if pool.count < pool.capacity { pool.append(context) }
        }
    }

    // MARK: Closing

    /// Stops the maintenance thread, sends the queued frees, deletes every key of the run (a
    /// SCAN of `PREFIX:RUN:*` on every master: pages not freed, refused writes that landed late)
    /// and the lease, and closes the connections. Later calls throw `PageTierError.closed`.
    /// Calling it again does nothing.
    ///
    /// - Throws: ``RedisTierError/keysLeftBehind(count:reason:)`` when some keys could not be
    ///   deleted (nodes down): they go when the lease expires and gc runs.
    public func close() throws(RedisTierError) {
        guard !isClosed.exchange(true, ordering: .relaxed) else { return }
        maintenance.stop.store(true, ordering: .relaxed)
        while maintenance.running.load(ordering: .acquiring) { sleepMicroseconds(1000) }
        // Most keys go with the queued frees (pipelined); the sweep finds whatever is left,
        // so frees the cluster did not take now are no loss once it succeeded.
        let queued = flushFrees()
        if queued > 0 || client.isStale { _ = try? client.refresh() }
        var problems: [String] = []
        for master in client.topology.masters {
            do {
                try client.scan(master, matching: namespace.keyPattern) { (keys) throws(RedisTierError) in
                    try client.unlink(keys, on: master)
                }
            } catch {
                problems.append("\(master.address): \(error)")
            }
        }
        if problems.isEmpty {
            frees.withLock { queue in while queue.pop() != nil {} }
            queuedFrees.store(0, ordering: .relaxed)
        } else if queued > 0 {
            problems.append("\(queued) frees found no node")
        }
        do { try lease.drop(client) } catch { problems.append("lease \(namespace.leaseKey): \(error)") }
        client.closeAll()
        if !problems.isEmpty {
            throw .keysLeftBehind(count: -1, reason: problems.joined(separator: "; "))
        }
    }

    // MARK: Maintenance

    /// Starts the maintenance thread: every ``RedisTierConfiguration/maintenanceIntervalMilliseconds``
    /// it refreshes a stale topology, sends queued frees (a batch's worth, or any after 100 ms)
    /// and refreshes the lease when due. It holds the tier only during a tick, so a tier that is
    /// released without ``close()`` goes away, and the thread ends at its next tick.
    private func startMaintenance() {
        let state = maintenance
        let interval = configuration.maintenanceIntervalMilliseconds * 1000
        state.running.store(true, ordering: .releasing)
        let started = try? NativeThread.start { [weak self] in
            var lastFlush = MonotonicClock.nanoseconds()
            while true {
                sleepMicroseconds(interval)
                guard !state.stop.load(ordering: .relaxed), let tier = self else { break }
                tier.maintenanceTick(lastFlush: &lastFlush)
            }
            state.running.store(false, ordering: .releasing)
        }
        if let started { started.detach() } else { state.running.store(false, ordering: .releasing) }
    }

    private func maintenanceTick(lastFlush: inout Int) {
        let now = MonotonicClock.nanoseconds()
        client.refreshIfStale(minimumIntervalNanoseconds: 100_000_000)
        let queued = queuedFrees.load(ordering: .relaxed)
        if queued >= configuration.freeBatchSize || (queued > 0 && now - lastFlush >= 100_000_000) {
            flushFrees()
            lastFlush = now
        }
        lease.refreshIfDue(client, counters: counters)
    }
}

/// The maintenance thread's flags, shared by the tier and the thread (which outlives neither
/// the flags nor, beyond one tick, the tier).
final class MaintenanceState: Sendable {
    /// Set to end the thread.
    let stop = Atomic<Bool>(false)
    /// True until the thread has ended.
    let running = Atomic<Bool>(false)
}
