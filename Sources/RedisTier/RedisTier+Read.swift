import PageStore
import SystemSupport

/// How one attempt to read a page ended.
enum ReadAttempt {
    /// The page, this many bytes, is in the buffer and verified.
    case page(Int)
    /// The node holds no such key.
    case missing
    /// The node sent the read elsewhere.
    case redirect(Redirect)
    /// The node did not serve it now (down, slow, failing over): try another or later.
    case retry(RedisTierError)
    /// The read cannot succeed (corrupt value, buffer too small).
    case fail(PageTierError)
}

extension RedisTier {
    /// The read loop: the slot's master, then its replicas when it does not answer, following
    /// MOVED and ASK, backing off once every candidate failed, until ``readRetryMilliseconds``.
    func readWithRetries(
        _ handle: PageTierHandle, suffix: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer
    ) throws(PageTierError) -> Int {
        let slot = namespace.slot(suffix: suffix)
        let started = MonotonicClock.nanoseconds()
        let deadline = started + readRetryMilliseconds * 1_000_000
        var attempts = 0
        var candidate = 0  // 0: the master; k: replica k - 1 (round robin after failures)
        var failuresSinceBackoff = 0
        var backoffMicroseconds = 2_000
        var ask: ClusterNode?
        var lastProblem: RedisTierError = .incompleteCoverage(unservedSlots: 1)
        while true {
            if attempts > 0 { counters.readRetries.add(1, ordering: .relaxed) }
            attempts += 1
            let topology = client.topology
            var target: ClusterNode?
            var fromReplica = false
            var candidates = 1
            if let node = ask {
                target = node
            } else if let shard = topology.shard(ofSlot: slot) {
                candidates = 1 + shard.replicas.count
                // The next candidate not marked down; if all are, the one in turn anyway.
                for step in 0..<candidates {
                    let pick = (candidate + step) % candidates
                    let node = topology.nodes[pick == 0 ? shard.master : shard.replicas[pick - 1]]
                    if !node.isMarkedDown || step == candidates - 1 {
                        target = node
                        fromReplica = pick != 0
                        candidate = pick
                        break
                    }
                }
            } else {
                client.markStale()
                lastProblem = .incompleteCoverage(unservedSlots: topology.unservedSlots)
            }
            if let target {
                let asking = ask != nil
                ask = nil
                switch readOnce(from: target, suffix: suffix, handle: handle, asking: asking, into: buffer) {
                case .page(let length):
                    if fromReplica { counters.replicaReads.add(1, ordering: .relaxed) }
                    return length
                case .missing:
                    // A replica may lag behind its master (replicas: 0); the master's word is final.
                    guard fromReplica || asking else { throw .missing(handle: handle.rawValue) }
                    candidate = 0
                    lastProblem = .serverError(node: target.address.description, message: "no such key on a replica")
                    continue
                case .redirect(let redirect):
                    switch redirect.kind {
                    case .moved: client.applyMoved(slot: redirect.slot, to: redirect.address)
                    case .ask:
                        counters.askRedirects.add(1, ordering: .relaxed)
                        ask = client.node(for: redirect.address)
                    }
                    if attempts < 8 || MonotonicClock.nanoseconds() < deadline { continue }
                    lastProblem = .serverError(node: target.address.description, message: "redirected \(attempts) times")
                case .retry(let problem):
                    lastProblem = problem
                    client.markStale()
                    candidate += 1
                    failuresSinceBackoff += 1
                case .fail(let error):
                    throw error
                }
            }
            let now = MonotonicClock.nanoseconds()
            if now >= deadline {
                throw .unavailable(
                    "page \(handle) (slot \(slot)) was not served in \(attempts) attempts over \((now - started) / 1_000_000) ms (the retry window is \(readRetryMilliseconds) ms); last: \(lastProblem)")
            }
            client.refreshIfStale(minimumIntervalNanoseconds: 100_000_000, deadline: deadline)
            if failuresSinceBackoff >= candidates || target == nil {
                failuresSinceBackoff = 0
                sleepMicroseconds(min(backoffMicroseconds, max(0, (deadline - MonotonicClock.nanoseconds()) / 1000)))
                backoffMicroseconds = min(backoffMicroseconds * 2, 200_000)
            }
        }
    }

    /// One GET (after ASKING when `asking`) of the key with `suffix` on `node`.
    private func readOnce(
        from node: ClusterNode, suffix: UnsafeRawBufferPointer, handle: PageTierHandle, asking: Bool,
        into buffer: UnsafeMutableRawBufferPointer
    ) -> ReadAttempt {
        let connection: RedisConnection
        do { connection = try node.acquire(counters: counters) } catch {
            node.markDown()
            return .retry(error)
        }
        let deadline = MonotonicClock.nanoseconds() + client.settings.ioTimeoutNanoseconds
        if asking {
            RESP.appendArrayHeader(1, to: &connection.output)
            RESP.appendBulk("ASKING", to: &connection.output)
        }
        RESP.appendArrayHeader(2, to: &connection.output)
        RESP.appendBulk("GET", to: &connection.output)
        namespace.appendKey(suffix: suffix, to: &connection.output)
        let reply: RESPReply
        do {
            try connection.flush(deadline: deadline)
            if asking {
                let askingReply = try connection.readReply(deadline: deadline)
                connection.consume(askingReply)
            }
            reply = try connection.readReply(deadline: deadline)
        } catch {
            node.markDown()
            node.release(connection)
            return .retry(error)
        }
        defer {
            connection.consume(reply)
            node.release(connection)
        }
        node.markUp()
        switch reply.kind {
        case .bulk:
            guard let (checksum, object) = PageValue.parse(connection.payload(of: reply)) else {
                return .fail(.corrupt(handle: handle.rawValue, reason: "the value is not a page value (\(reply.payloadLength) bytes without the tier's header)"))
            }
            guard object.count <= buffer.count else {
                return .fail(.bufferTooSmall(needed: object.count, available: buffer.count))
            }
            if let target = buffer.baseAddress, let source = object.baseAddress, object.count > 0 {
                target.copyMemory(from: source, byteCount: object.count)
            }
            let stored = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<object.count])
            let actual = namespace.checksum(suffix: suffix, object: stored)
            guard actual == checksum else {
                return .fail(.corrupt(
                    handle: handle.rawValue,
                    reason: "CRC-32C \(String(actual, radix: 16)) where the value records \(String(checksum, radix: 16)) (\(object.count) bytes from \(node.address))"))
            }
            return .page(object.count)
        case .null:
            return .missing
        case .error:
            let message = connection.payload(of: reply)
            if let redirect = Redirect(message, asked: node.address) { return .redirect(redirect) }
            return .retry(.serverError(node: node.address.description, message: String(decoding: message, as: UTF8.self)))
        default:
            connection.markBroken()
            return .retry(.protocolViolation(node: node.address.description, detail: "a \(reply.kind) reply to GET"))
        }
    }
}
