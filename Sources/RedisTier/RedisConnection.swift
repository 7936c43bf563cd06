import SystemPackage
import SystemSupport

/// One TCP connection to one node: a non-blocking socket, a send buffer commands are encoded
/// into and a receive buffer replies are parsed from, each call bounded by a deadline.
///
/// **Ownership.** The connection owns its socket (closed in ``close()`` or `deinit`) and its two
/// ``ByteBuffer``s. It is used by one thread at a time: a ``ClusterNode``'s pool hands it to one
/// caller, who gives it back (or drops it when it broke); that exclusive hand-over is what makes
/// the `@unchecked Sendable` safe.
///
/// **Invariants.** Replies are read in the order their commands were sent. After any failure
/// (time-out, reset, malformed reply) the connection is broken: the replies still owed cannot be
/// matched to their commands any more, so it is never used again.
final class RedisConnection: @unchecked Sendable {
    /// The node it talks to.
    let node: NodeAddress
    /// Commands encoded and not sent yet.
    var output: ByteBuffer
    /// Bytes received and not parsed yet.
    var input: ByteBuffer
    /// Whether a failure made the connection unusable.
    private(set) var isBroken = false
    private var fd: Int32

    /// Connects to `address` (resolved by ``SocketAddress``) within `timeoutMilliseconds`.
    /// Buffers start at `bufferCapacity` bytes each.
    init(to node: NodeAddress, at address: SocketAddress, timeoutMilliseconds: Int, bufferCapacity: Int) throws(RedisTierError) {
        self.node = node
        output = ByteBuffer(capacity: bufferCapacity)
        input = ByteBuffer(capacity: bufferCapacity)
        #if os(Linux)
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        #else
        let type = SOCK_STREAM
        #endif
        let descriptor = socket(address.family, type, 0)
        guard descriptor >= 0 else {
            throw .connectionFailed(node: node.description, reason: "socket: \(SystemCall.lastError)")
        }
        fd = descriptor
        var one: Int32 = 1
        _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let deadline = MonotonicClock.nanoseconds() + timeoutMilliseconds * 1_000_000
        let rc = address.withSockaddr { connect(descriptor, $0, $1) }
        if rc != 0 {
            let error = errno
            guard error == EINPROGRESS || error == EINTR else {
                close()
                throw .connectionFailed(node: node.description, reason: Errno(rawValue: error).description)
            }
            do { try wait(for: Int16(POLLOUT), until: deadline, operation: "connect") } catch {
                close()
                throw error
            }
            var socketError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &socketError, &length)
            if socketError != 0 {
                close()
                throw .connectionFailed(node: node.description, reason: Errno(rawValue: socketError).description)
            }
        }
    }

    deinit { close() }

    /// Closes the socket; the connection is broken from now on.
    func close() {
        if fd >= 0 {
            closeDescriptor(fd)
            fd = -1
        }
        isBroken = true
    }

    /// Marks the connection broken and closes it (a reply that cannot be matched any more).
    func markBroken() {
        close()
        output.clear()
        input.clear()
    }

    // MARK: Sending

    /// Sends everything in ``output`` before `deadline` (monotonic nanoseconds).
    func flush(deadline: Int) throws(RedisTierError) {
        while output.readableCount > 0 {
            let pending = output.readable
            let sent = send(fd, pending.baseAddress, pending.count, Int32(MSG_NOSIGNAL))
            if sent > 0 {
                output.consume(sent)
                continue
            }
            let error = sent < 0 ? errno : EPIPE
            if error == EINTR { continue }
            if error == EAGAIN || error == EWOULDBLOCK {
                try wait(for: Int16(POLLOUT), until: deadline, operation: "a send")
                continue
            }
            markBroken()
            throw .connectionFailed(node: node.description, reason: "send: \(Errno(rawValue: error))")
        }
    }

    // MARK: Receiving

    /// Waits until a whole reply is at the start of ``input`` and returns where it is; the caller
    /// reads it (``replyBytes``) and then calls ``consume(_:)``. The data path's replies fit the
    /// buffer as made; a larger one (a long SCAN page) grows it.
    func readReply(deadline: Int) throws(RedisTierError) -> RESPReply {
        while true {
            if input.readableCount > 0 {
                let parsed: RESPReply?
                do { parsed = try RESPParser.parse(input.readable) } catch {
                    markBroken()
                    throw .protocolViolation(node: node.description, detail: error.detail)
                }
                if let parsed { return parsed }
            }
            try receive(deadline: deadline)
        }
    }

    /// The received bytes, starting with the reply ``readReply(deadline:)`` returned.
    var replyBytes: UnsafeRawBufferPointer { input.readable }

    /// The payload of `reply` (a string's or bulk string's bytes).
    func payload(of reply: RESPReply) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: input.readable.baseAddress! + reply.payloadOffset, count: reply.payloadLength)
    }

    /// Drops `reply` from the receive buffer.
    func consume(_ reply: RESPReply) { input.consume(reply.totalLength) }

    /// Reads what the socket has (waiting for it until `deadline`) into ``input``.
    private func receive(deadline: Int) throws(RedisTierError) {
        if input.writableCount < 4096 { input.reserve(max(4096, input.capacity / 2)) }
        try wait(for: Int16(POLLIN), until: deadline, operation: "a reply")
        while true {
            let n = recv(fd, input.writePointer, input.writableCount, 0)
            if n > 0 {
                input.didWrite(n)
                return
            }
            if n == 0 {
                markBroken()
                throw .protocolViolation(node: node.description, detail: "the server closed the connection")
            }
            let error = errno
            if error == EINTR { continue }
            if error == EAGAIN || error == EWOULDBLOCK {
                try wait(for: Int16(POLLIN), until: deadline, operation: "a reply")
                continue
            }
            markBroken()
            throw .connectionFailed(node: node.description, reason: "recv: \(Errno(rawValue: error))")
        }
    }

    /// Polls the socket for `events` until `deadline`; a time-out breaks the connection.
    private func wait(for events: Int16, until deadline: Int, operation: String) throws(RedisTierError) {
        guard fd >= 0 else {
            throw .connectionFailed(node: node.description, reason: "the connection was closed")
        }
        var descriptor = pollfd(fd: fd, events: events, revents: 0)
        let started = MonotonicClock.nanoseconds()
        while true {
            let left = deadline - MonotonicClock.nanoseconds()
            let milliseconds = left <= 0 ? 0 : Int32(clamping: (left + 999_999) / 1_000_000)
            let ready = poll(&descriptor, 1, milliseconds)
            if ready > 0 {
                if descriptor.revents & Int16(POLLNVAL) != 0 {
                    markBroken()
                    throw .connectionFailed(node: node.description, reason: "the socket is not open")
                }
                return  // readable, writable, or an error the next call reports
            }
            if ready < 0 && errno == EINTR { continue }
            if ready < 0 {
                let error = errno
                markBroken()
                throw .connectionFailed(node: node.description, reason: "poll: \(Errno(rawValue: error))")
            }
            if left <= 0 {
                markBroken()
                throw .timedOut(
                    node: node.description, operation: operation,
                    milliseconds: (MonotonicClock.nanoseconds() - started) / 1_000_000)
            }
        }
    }

    // MARK: Control plane

    /// Sends one command and returns its reply as a value (topology, SCAN, INFO, CONFIG).
    /// An error reply is returned as ``RESPValue/error(_:)``, not thrown.
    func command(_ arguments: [String], deadline: Int) throws(RedisTierError) -> RESPValue {
        RESP.appendCommand(arguments, to: &output)
        try flush(deadline: deadline)
        let reply = try readReply(deadline: deadline)
        let value = RESPParser.value(of: reply, in: replyBytes)
        consume(reply)
        return value
    }

    /// Checks the buffers' invariants; debug builds only.
    func checkInvariants() {
        output.checkInvariants()
        input.checkInvariants()
    }
}

/// `close(2)`, out of reach of the connection's own ``RedisConnection/close()``.
private func closeDescriptor(_ fd: Int32) { _ = close(fd) }

/// A resolved socket address (IPv4 or IPv6) for `connect`.
struct SocketAddress: Sendable {
    private var storage = sockaddr_storage()
    private var length: socklen_t = 0

    /// The address family (`AF_INET`, `AF_INET6`).
    var family: Int32 { Int32(storage.ss_family) }

    /// Resolves `node` (numeric addresses without a lookup).
    init(resolving node: NodeAddress) throws(RedisTierError) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if os(Linux)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(node.host, String(node.port), &hints, &list)
        guard rc == 0, let first = list else {
            let reason = rc == 0 ? "no address" : String(cString: gai_strerror(rc))
            throw .connectionFailed(node: node.description, reason: "cannot resolve \(node.host): \(reason)")
        }
        defer { freeaddrinfo(list) }
        let size = Int(first.pointee.ai_addrlen)
        withUnsafeMutableBytes(of: &storage) { raw in
            raw.copyMemory(from: UnsafeRawBufferPointer(start: first.pointee.ai_addr, count: min(size, raw.count)))
        }
        length = socklen_t(size)
    }

    /// Runs `body` with the address as `connect` takes it.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafeBytes(of: storage) { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }
}
