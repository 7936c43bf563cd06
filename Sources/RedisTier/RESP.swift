/// RESP2, the Redis protocol, as far as the tier speaks it: commands are arrays of bulk strings;
/// replies are simple strings, errors, integers, bulk strings (or null) and arrays.
///
/// The encoder writes straight into a connection's send buffer and the parser reads straight
/// from its receive buffer, so a page's command and reply cost no allocation: ``RESPParser``
/// only locates a reply (``RESPReply``); control-plane replies (CLUSTER SLOTS, SCAN, INFO) are
/// turned into a ``RESPValue`` tree.
enum RESP {
    /// Appends `*count\r\n`, the header of a command of `count` arguments.
    @inline(__always)
    static func appendArrayHeader(_ count: Int, to buffer: inout ByteBuffer) {
        buffer.append(byte: UInt8(ascii: "*"))
        buffer.append(decimal: count)
        buffer.appendCRLF()
    }

    /// Appends `$length\r\n`, the header of a bulk string whose bytes follow.
    @inline(__always)
    static func appendBulkHeader(_ length: Int, to buffer: inout ByteBuffer) {
        buffer.append(byte: UInt8(ascii: "$"))
        buffer.append(decimal: length)
        buffer.appendCRLF()
    }

    /// Appends `bytes` as a bulk string.
    @inline(__always)
    static func appendBulk(_ bytes: UnsafeRawBufferPointer, to buffer: inout ByteBuffer) {
        appendBulkHeader(bytes.count, to: &buffer)
        buffer.append(bytes)
        buffer.appendCRLF()
    }

    /// Appends a short constant argument (a command name) as a bulk string.
    @inline(__always)
    static func appendBulk(_ text: StaticString, to buffer: inout ByteBuffer) {
        appendBulk(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount), to: &buffer)
    }

    /// Appends `value` in decimal as a bulk string.
    @inline(__always)
    static func appendBulk(decimal value: Int, to buffer: inout ByteBuffer) {
        var digits = 1
        var v = value.magnitude
        while v >= 10 { digits += 1; v /= 10 }
        appendBulkHeader(digits + (value < 0 ? 1 : 0), to: &buffer)
        buffer.append(decimal: value)
        buffer.appendCRLF()
    }

    /// Appends a whole command of string arguments (the control plane: allocation is fine there).
    static func appendCommand(_ arguments: [String], to buffer: inout ByteBuffer) {
        appendArrayHeader(arguments.count, to: &buffer)
        for argument in arguments {
            var argument = argument
            argument.withUTF8 { appendBulk(UnsafeRawBufferPointer($0), to: &buffer) }
        }
    }
}

/// One complete reply at the start of a receive buffer, located but not copied.
struct RESPReply: Equatable {
    /// The reply's type.
    enum Kind: Equatable {
        /// `+OK`: the text is the payload.
        case simple
        /// `-ERR ...`: the message is the payload.
        case error
        /// `:42`: ``RESPReply/integer`` is the value.
        case integer
        /// `$n` and n bytes: the payload.
        case bulk
        /// `$-1` or `*-1`: nothing (a GET of a missing key).
        case null
        /// `*n` and n replies after the header: ``RESPReply/integer`` is the count.
        case array
    }

    /// The reply's type.
    var kind: Kind
    /// An integer's value, an array's element count, a bulk string's length.
    var integer: Int
    /// Where the payload (a string's or a bulk string's bytes) starts, from the reply's start.
    var payloadOffset: Int
    /// The payload's length.
    var payloadLength: Int
    /// The bytes the whole reply takes, elements of an array included.
    var totalLength: Int
}

/// A reply the server should never send (a broken or hostile peer): the connection cannot be
/// trusted any more.
struct RESPMalformed: Error, Equatable {
    /// What was wrong.
    var detail: String
}

/// Locates replies in received bytes.
enum RESPParser {
    /// Arrays nested deeper than this are refused (the tier's replies nest at most 4 deep).
    static let maxDepth = 16

    /// The first complete reply in `bytes`, or `nil` when more bytes are needed.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(RESPMalformed) -> RESPReply? {
        try parse(bytes, at: 0, depth: 0)
    }

    private static func parse(_ bytes: UnsafeRawBufferPointer, at start: Int, depth: Int) throws(RESPMalformed) -> RESPReply? {
        guard start < bytes.count else { return nil }
        guard let lineEnd = findCRLF(bytes, from: start + 1) else {
            if bytes.count - start > 64 * 1024 { throw RESPMalformed(detail: "a reply line longer than 64 KiB") }
            return nil
        }
        let type = bytes[start]
        let lineLength = lineEnd - (start + 1)
        let afterLine = lineEnd + 2
        switch type {
        case UInt8(ascii: "+"):
            return RESPReply(kind: .simple, integer: 0, payloadOffset: 1, payloadLength: lineLength, totalLength: afterLine - start)
        case UInt8(ascii: "-"):
            return RESPReply(kind: .error, integer: 0, payloadOffset: 1, payloadLength: lineLength, totalLength: afterLine - start)
        case UInt8(ascii: ":"):
            let value = try integer(bytes, start + 1, lineEnd)
            return RESPReply(kind: .integer, integer: value, payloadOffset: 0, payloadLength: 0, totalLength: afterLine - start)
        case UInt8(ascii: "$"):
            let length = try integer(bytes, start + 1, lineEnd)
            if length == -1 {
                return RESPReply(kind: .null, integer: -1, payloadOffset: 0, payloadLength: 0, totalLength: afterLine - start)
            }
            guard length >= 0 && length <= 512 << 20 else { throw RESPMalformed(detail: "a bulk string of length \(length)") }
            let end = afterLine + length
            guard end + 2 <= bytes.count else { return nil }
            guard bytes[end] == 13 && bytes[end + 1] == 10 else {
                throw RESPMalformed(detail: "a bulk string of \(length) bytes not followed by CRLF")
            }
            return RESPReply(kind: .bulk, integer: length, payloadOffset: afterLine - start, payloadLength: length, totalLength: end + 2 - start)
        case UInt8(ascii: "*"):
            let count = try integer(bytes, start + 1, lineEnd)
            if count == -1 {
                return RESPReply(kind: .null, integer: -1, payloadOffset: 0, payloadLength: 0, totalLength: afterLine - start)
            }
            guard count >= 0 && count <= 1 << 24 else { throw RESPMalformed(detail: "an array of \(count) elements") }
            guard depth < maxDepth else { throw RESPMalformed(detail: "arrays nested more than \(maxDepth) deep") }
            var offset = afterLine
            for _ in 0..<count {
                guard let element = try parse(bytes, at: offset, depth: depth + 1) else { return nil }
                offset += element.totalLength
            }
            return RESPReply(kind: .array, integer: count, payloadOffset: afterLine - start, payloadLength: offset - afterLine, totalLength: offset - start)
        default:
            throw RESPMalformed(detail: "a reply starting with byte \(type) (not a RESP2 type)")
        }
    }

    /// The index of the first "\r\n" at or after `from`, or `nil`.
    @inline(__always)
    private static func findCRLF(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        var i = from
        let last = bytes.count - 1
        while i < last {
            if bytes[i] == 13 {
                if bytes[i + 1] == 10 { return i }
            }
            i += 1
        }
        return nil
    }

    /// The decimal integer in `bytes[from..<to]`.
    @inline(__always)
    private static func integer(_ bytes: UnsafeRawBufferPointer, _ from: Int, _ to: Int) throws(RESPMalformed) -> Int {
        var i = from
        var negative = false
        if i < to && bytes[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        guard i < to && to - i <= 19 else { throw RESPMalformed(detail: "a number of \(to - from) characters") }
        var value = 0
        while i < to {
            let digit = Int(bytes[i]) - 48
            guard digit >= 0 && digit <= 9 else { throw RESPMalformed(detail: "a non-digit in a number") }
            value = value * 10 + digit
            i += 1
        }
        return negative ? -value : value
    }

    /// The reply at the start of `bytes` as a tree (control plane).
    static func value(of reply: RESPReply, in bytes: UnsafeRawBufferPointer) -> RESPValue {
        switch reply.kind {
        case .simple: return .simple(text(reply, bytes))
        case .error: return .error(text(reply, bytes))
        case .integer: return .integer(reply.integer)
        case .null: return .null
        case .bulk:
            return .bulk(Array(UnsafeRawBufferPointer(rebasing: bytes[reply.payloadOffset..<(reply.payloadOffset + reply.payloadLength)])))
        case .array:
            var elements: [RESPValue] = []
            elements.reserveCapacity(reply.integer)
            var offset = reply.payloadOffset
            for _ in 0..<reply.integer {
                let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
                // The array was parsed whole before, so every element is complete and well formed.
                guard let element = try? parse(rest) else { break }
                elements.append(value(of: element, in: rest))
                offset += element.totalLength
            }
            return .array(elements)
        }
    }

    private static func text(_ reply: RESPReply, _ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[reply.payloadOffset..<(reply.payloadOffset + reply.payloadLength)]), as: UTF8.self)
    }
}

/// A whole reply as a value, for the control plane (topology, SCAN, INFO, CONFIG).
enum RESPValue: Equatable, Sendable {
    /// A simple string.
    case simple(String)
    /// An error message.
    case error(String)
    /// An integer.
    case integer(Int)
    /// A bulk string.
    case bulk([UInt8])
    /// A null bulk string or array.
    case null
    /// An array.
    case array([RESPValue])

    /// A simple or bulk string's text, else `nil`.
    var text: String? {
        switch self {
        case .simple(let s): s
        case .bulk(let b): String(decoding: b, as: UTF8.self)
        default: nil
        }
    }

    /// An integer's value (or a string holding one), else `nil`.
    var integerValue: Int? {
        switch self {
        case .integer(let i): i
        case .simple, .bulk: text.flatMap { Int($0) }
        default: nil
        }
    }

    /// An array's elements, else `nil`.
    var elements: [RESPValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// An error's message, else `nil`.
    var errorMessage: String? {
        if case .error(let e) = self { return e }
        return nil
    }
}
