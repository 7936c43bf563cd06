import PageCodecs

/// A plain LZ4 block decoder written for the fuzz targets to compare against: one byte at a
/// time, every index checked before use, no speed tricks, so that it is easy to see it is right.
///
/// It accepts what the block format's sequence rules allow (lengths that fit the input and the
/// output, offsets from 1 to the bytes decoded so far, a last sequence of literals only), which
/// is what `LZ4Decompressor` documents, and reports the same kind of error for everything else,
/// found in the same order (a literal run's input before its output, a match's offset before its
/// length). It also tells whether an accepted block keeps the format's end-of-block rules
/// (lz4_Block_format.md: the last 5 bytes are literals, the last match starts at least 12
/// bytes before the end), which liblz4 enforces and this package's decoder does not.
public enum ReferenceLZ4Decoder {
    /// A block that decoded.
    public struct Decoded: Equatable, Sendable {
        /// Bytes written.
        public var count: Int
        /// Whether every match ends at least 5 bytes and starts at least 12 bytes before the
        /// end of the decoded data (the format's end-of-block rules).
        public var keepsEndRules: Bool

        /// A result of `count` bytes.
        public init(count: Int, keepsEndRules: Bool) {
            self.count = count
            self.keepsEndRules = keepsEndRules
        }
    }

    /// Decodes `source` into `destination`, or only measures and validates it when
    /// `destination` is `nil` (then `capacity` bounds the output).
    public static func decode(
        _ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer?, capacity: Int? = nil
    ) -> Result<Decoded, CodecError> {
        let n = source.count
        let limit = destination?.count ?? capacity ?? Int.max
        guard n > 0 else { return .failure(.truncatedInput(offset: 0)) }
        var ip = 0
        var op = 0
        var lastMatchStart = -1
        var lastMatchEnd = -1
        while true {
            guard ip < n else {
                return .failure(.malformedBlock(offset: ip, reason: "the block ends with a match; its last sequence must be literals only"))
            }
            let token = Int(source[ip])
            ip += 1
            guard let literals = length(token >> 4, source, &ip) else { return .failure(.truncatedInput(offset: n)) }
            guard literals <= n - ip else { return .failure(.truncatedInput(offset: n)) }
            guard literals <= limit - op else { return .failure(.outputOverflow(capacity: limit)) }
            if let destination {
                for k in 0..<literals { destination[op + k] = source[ip + k] }
            }
            op += literals
            ip += literals
            if ip == n {
                let keeps = lastMatchStart < 0 || (lastMatchEnd <= op - 5 && lastMatchStart <= op - 12)
                return .success(Decoded(count: op, keepsEndRules: keeps))
            }
            guard n - ip >= 2 else { return .failure(.truncatedInput(offset: n)) }
            let offset = Int(source[ip]) | Int(source[ip + 1]) << 8
            ip += 2
            guard offset != 0 && offset <= op else { return .failure(.invalidOffset(offset: ip - 2, distance: offset)) }
            guard var matchLength = length(token & 15, source, &ip) else { return .failure(.truncatedInput(offset: n)) }
            matchLength += 4
            guard matchLength <= limit - op else { return .failure(.outputOverflow(capacity: limit)) }
            if let destination {
                for k in 0..<matchLength { destination[op + k] = destination[op - offset + k] }
            }
            lastMatchStart = op
            op += matchLength
            lastMatchEnd = op
        }
    }

    /// A length whose token nibble is `nibble`: with 15, the 255-continued bytes at `ip` are
    /// added; `nil` when the input ends inside them.
    private static func length(_ nibble: Int, _ source: UnsafeRawBufferPointer, _ ip: inout Int) -> Int? {
        var total = nibble
        guard nibble == 15 else { return total }
        while true {
            guard ip < source.count else { return nil }
            let b = Int(source[ip])
            ip += 1
            total += b
            if b != 255 { return total }
        }
    }

    /// The kind of a codec error, without its positions (`truncatedInput`, `invalidOffset`, ...).
    public static func kind(of error: CodecError) -> String {
        switch error {
        case .truncatedInput: "truncatedInput"
        case .invalidOffset(_, let distance): distance == 0 ? "invalidOffset(0)" : "invalidOffset"
        case .outputOverflow: "outputOverflow"
        case .invalidLength: "invalidLength"
        case .malformedBlock: "malformedBlock"
        case .sizeMismatch: "sizeMismatch"
        case .libraryUnavailable: "libraryUnavailable"
        case .libraryError: "libraryError"
        case .invalidArgument: "invalidArgument"
        }
    }
}
