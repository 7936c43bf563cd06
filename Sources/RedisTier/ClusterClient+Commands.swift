import SystemSupport

/// The control plane: single commands routed by key (the lease), SCAN and UNLINK on one node
/// (closing, gc), CONFIG GET. These allocate freely; pages never go through them.
extension ClusterClient {
    /// Sends `arguments` (a command on `key`) to the master serving `key`'s slot, following
    /// MOVED and ASK redirects (four times at most) and refreshing the topology when a node
    /// does not answer. Error replies other than redirects are returned, not thrown.
    func routedCommand(_ arguments: [String], key: String) throws(RedisTierError) -> RESPValue {
        let slot = HashSlot.slot(of: key)
        var ask: ClusterNode?
        var lastError: RedisTierError = .incompleteCoverage(unservedSlots: 1)
        for _ in 0..<4 {
            let topology = topology
            guard let node = ask ?? topology.masterIndex(ofSlot: slot).map({ topology.nodes[$0] }) else {
                _ = try? refresh(after: topology.generation)
                continue
            }
            do {
                let connection = try node.acquire(counters: counters)
                let deadline = MonotonicClock.nanoseconds() + settings.ioTimeoutNanoseconds
                if ask != nil {
                    _ = try connection.command(["ASKING"], deadline: deadline)
                    ask = nil
                }
                let reply = try connection.command(arguments, deadline: deadline)
                node.release(connection)
                if let message = reply.errorMessage {
                    let redirect = Array(message.utf8).withUnsafeBytes { Redirect($0, asked: node.address) }
                    if let redirect {
                        switch redirect.kind {
                        case .moved: applyMoved(slot: redirect.slot, to: redirect.address)
                        case .ask:
                            counters.askRedirects.add(1, ordering: .relaxed)
                            ask = self.node(for: redirect.address)
                        }
                        lastError = .serverError(node: node.address.description, message: message)
                        continue
                    }
                }
                return reply
            } catch {
                node.markDown()
                lastError = error
                _ = try? refresh(after: topology.generation)
            }
        }
        throw lastError
    }

    /// Walks `node`'s keys matching `pattern` with SCAN (COUNT 1000), handing each page of keys
    /// to `body`.
    func scan(
        _ node: ClusterNode, matching pattern: String, _ body: ([String]) throws(RedisTierError) -> Void
    ) throws(RedisTierError) {
        let connection = try node.acquire(counters: counters)
        defer { node.release(connection) }
        var cursor = "0"
        repeat {
            let deadline = MonotonicClock.nanoseconds() + settings.ioTimeoutNanoseconds
            let reply = try connection.command(["SCAN", cursor, "MATCH", pattern, "COUNT", "1000"], deadline: deadline)
            guard let parts = reply.elements, parts.count == 2, let next = parts[0].text, let keys = parts[1].elements else {
                throw .serverError(node: node.address.description, message: "SCAN answered \(reply)")
            }
            cursor = next
            let names = keys.compactMap(\.text)
            if !names.isEmpty { try body(names) }
        } while cursor != "0"
    }

    /// Deletes `keys` (which `node` holds) with one pipelined UNLINK each; returns how many
    /// existed.
    @discardableResult
    func unlink(_ keys: [String], on node: ClusterNode) throws(RedisTierError) -> Int {
        guard !keys.isEmpty else { return 0 }
        let connection = try node.acquire(counters: counters)
        defer { node.release(connection) }
        let deadline = MonotonicClock.nanoseconds() + settings.ioTimeoutNanoseconds
        for key in keys { RESP.appendCommand(["UNLINK", key], to: &connection.output) }
        try connection.flush(deadline: deadline)
        var removed = 0
        for _ in keys {
            let reply = try connection.readReply(deadline: deadline)
            if reply.kind == .integer { removed += reply.integer }
            connection.consume(reply)
        }
        return removed
    }

    /// A CONFIG GET value from the first master that answers, or `nil` (CONFIG may be disabled).
    func configValue(_ name: String) -> String? {
        for node in topology.masters {
            guard let connection = try? node.acquire(counters: counters) else { continue }
            let deadline = MonotonicClock.nanoseconds() + settings.ioTimeoutNanoseconds
            let reply = try? connection.command(["CONFIG", "GET", name], deadline: deadline)
            node.release(connection)
            if let parts = reply?.elements, parts.count == 2, let value = parts[1].text { return value }
        }
        return nil
    }
}
