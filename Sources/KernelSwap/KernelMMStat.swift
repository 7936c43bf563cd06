/// The kernel's `mm_stat` line as named fields (bytes for the size fields, pages for the rest).
/// Its coded form is an object keyed by the kernel's field names.
public struct KernelMMStat: Sendable, Equatable, Codable {
    /// The field names, in the kernel's order.
    public static let fieldNames = [
        "orig_data_size", "compr_data_size", "mem_used_total", "mem_limit", "mem_used_max",
        "same_pages", "pages_compacted", "huge_pages", "huge_pages_since",
    ]

    /// Uncompressed size of the stored pages, bytes.
    public var origDataSize = 0
    /// Compressed size of the stored pages, bytes.
    public var comprDataSize = 0
    /// Memory the pool takes from the system, bytes.
    public var memUsedTotal = 0
    /// The pool's limit, bytes (0: none).
    public var memLimit = 0
    /// The most memory the pool took, bytes.
    public var memUsedMax = 0
    /// Pages stored as one repeated word.
    public var samePages = 0
    /// Pages freed by compaction.
    public var pagesCompacted = 0
    /// Pages stored uncompressed.
    public var hugePages = 0
    /// Pages stored uncompressed since the device was initialized.
    public var hugePagesSince = 0

    /// The kernel's field names as coding keys.
    enum CodingKeys: String, CodingKey {
        case origDataSize = "orig_data_size", comprDataSize = "compr_data_size", memUsedTotal = "mem_used_total"
        case memLimit = "mem_limit", memUsedMax = "mem_used_max", samePages = "same_pages"
        case pagesCompacted = "pages_compacted", hugePages = "huge_pages", hugePagesSince = "huge_pages_since"
    }

    /// All zero.
    public init() {}

    /// The fields in the kernel's order; missing trailing fields read 0.
    public init(values: [Int]) {
        let v = values + Array(repeating: 0, count: max(0, 9 - values.count))
        (origDataSize, comprDataSize, memUsedTotal, memLimit, memUsedMax) = (v[0], v[1], v[2], v[3], v[4])
        (samePages, pagesCompacted, hugePages, hugePagesSince) = (v[5], v[6], v[7], v[8])
    }

    /// Parses the kernel's line. Older kernels print 7 or 8 fields (no huge_pages,
    /// huge_pages_since); the missing ones read 0.
    public init(line: String, path: String = "mm_stat") throws(KernelZramError) {
        guard let values = KernelCounters.parse(line), (7...9).contains(values.count) else {
            throw .malformed(path: path, text: line)
        }
        self.init(values: values)
    }

    /// The fields in the kernel's order.
    public var values: [Int] {
        [origDataSize, comprDataSize, memUsedTotal, memLimit, memUsedMax, samePages, pagesCompacted, hugePages, hugePagesSince]
    }

    /// (name, value) pairs in the kernel's order.
    public var namedFields: [(name: String, value: Int)] {
        Array(zip(Self.fieldNames, values)).map { (name: $0.0, value: $0.1) }
    }

    /// The line as the kernel prints it: every field right-aligned in 8 columns.
    public var line: String {
        values.map { KernelCounters.pad($0, 8) }.joined(separator: " ")
    }
}

/// The kernel's lines of whitespace-separated counters.
enum KernelCounters {
    /// Whitespace-separated non-negative counters, or nil if any token is not one.
    static func parse(_ line: String) -> [Int]? {
        var values: [Int] = []
        for token in line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
            guard let value = Int(token), value >= 0 else { return nil }
            values.append(value)
        }
        return values.isEmpty ? nil : values
    }

    /// `value` right-aligned in `width` columns, like printf's `%8llu`.
    static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
