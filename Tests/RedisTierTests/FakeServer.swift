import Foundation
import Synchronization
import SystemSupport

/// A TCP server on a loopback port for the failure paths a real Redis never takes: it answers
/// what `respond` says to the bytes received so far on a connection (send bytes, stay silent,
/// close), one connection at a time, until stopped.
final class FakeServer: Sendable {
    /// What to do with the bytes a connection sent so far.
    enum Action: Sendable {
        /// Nothing yet: wait for more bytes.
        case wait
        /// Send these bytes and forget what was received.
        case send(String)
        /// Send raw bytes and forget what was received.
        case sendBytes([UInt8])
        /// Close the connection.
        case close
        /// Never answer (a stopped server).
        case silent
    }

    /// The port it listens on.
    let port: Int
    private let listener: Int32
    /// Set to stop serving.
    final class Flag: Sendable {
        let value = Atomic<Bool>(false)
    }

    private let stopped = Flag()
    private let thread: Mutex<NativeThread?> = Mutex(nil)

    /// Listens on 127.0.0.1 (a free port) and serves with `respond`.
    init(_ respond: @escaping @Sendable (String) -> Action) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 8) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let stopped = self.stopped
        let started = try NativeThread.start {
            while !stopped.value.load(ordering: .relaxed) {
                var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&descriptor, 1, 50) > 0 else { continue }
                let client = accept(fd, nil, nil)
                guard client >= 0 else { continue }
                FakeServer.serve(client, respond, stopped)
                _ = close(client)
            }
        }
        thread.withLock { $0 = started }
    }

    private static func serve(_ client: Int32, _ respond: (String) -> Action, _ stopped: Flag) {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !stopped.value.load(ordering: .relaxed) {
            var descriptor = pollfd(fd: client, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 50) > 0 else { continue }
            let n = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            received += chunk[0..<n]
            switch respond(String(decoding: received, as: UTF8.self)) {
            case .wait: continue
            case .send(let text):
                received.removeAll()
                _ = Array(text.utf8).withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            case .sendBytes(let bytes):
                received.removeAll()
                _ = bytes.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            case .close: return
            case .silent: received.removeAll()
            }
        }
    }

    /// Stops serving and closes the port.
    func stop() {
        stopped.value.store(true, ordering: .relaxed)
        thread.withLock { $0 }?.join()
        _ = close(listener)
    }
}
