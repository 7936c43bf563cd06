/// Where a cluster node listens: a host name or address and a TCP port.
public struct NodeAddress: Hashable, Sendable, CustomStringConvertible {
    /// A host name, an IPv4 address or an IPv6 address (without brackets).
    public var host: String
    /// The TCP port (the cluster bus is this plus 10000).
    public var port: Int

    /// The node at `host`:`port`.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` or `[IPV6]:PORT`.
    ///
    /// - Throws: ``RedisTierError/invalidConfiguration(_:)`` naming the bad text.
    public init(parsing text: Substring) throws(RedisTierError) {
        let text = trimmingSpaces(text)
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw .invalidConfiguration("'\(text)' is not [IPV6]:PORT")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw .invalidConfiguration("'\(text)' has no port: write HOST:PORT, such as 127.0.0.1:7100")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty else { throw .invalidConfiguration("'\(text)' has no host: write HOST:PORT") }
        guard let port = Int(portText), port > 0 && port < 65536 else {
            throw .invalidConfiguration("'\(portText)' in '\(text)' is not a TCP port (1-65535)")
        }
        self.host = String(host)
        self.port = port
    }

    /// Parses a seed list: `redis://HOST:PORT[,HOST:PORT...]`, or the same without the scheme.
    ///
    /// - Throws: ``RedisTierError/invalidConfiguration(_:)`` for an empty list, another scheme
    ///   or a bad address.
    public static func seeds(from url: String) throws(RedisTierError) -> [NodeAddress] {
        var rest = trimmingSpaces(url[...])
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        if rest.contains("/") {
            guard rest.hasPrefix("redis://") else {
                throw .invalidConfiguration("'\(url)' is not a redis:// address: write redis://HOST:PORT[,HOST:PORT...]")
            }
            rest = rest.dropFirst("redis://".count)
        }
        let parts = rest.split(separator: ",", omittingEmptySubsequences: true)
        guard !parts.isEmpty else {
            throw .invalidConfiguration("'\(url)' names no node: write redis://HOST:PORT[,HOST:PORT...]")
        }
        var seeds: [NodeAddress] = []
        for part in parts { seeds.append(try NodeAddress(parsing: part)) }
        return seeds
    }

    /// `host:port`, or `[host]:port` for an IPv6 address.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// `text` without leading and trailing spaces.
func trimmingSpaces(_ text: Substring) -> Substring {
    guard let first = text.firstIndex(where: { $0 != " " }), let last = text.lastIndex(where: { $0 != " " }) else {
        return text[text.endIndex...]
    }
    return text[first...last]
}
