/// The kernel's `io_stat` line: failed_reads failed_writes invalid_io notify_free
/// (invalid_io has read 0 since the kernel stopped counting it). Its coded form is an object
/// keyed by the kernel's field names.
public struct KernelIOStat: Sendable, Equatable, Codable {
    /// The field names, in the kernel's order.
    public static let fieldNames = ["failed_reads", "failed_writes", "invalid_io", "notify_free"]

    /// Reads that failed.
    public var failedReads = 0
    /// Writes that failed.
    public var failedWrites = 0
    /// Requests outside the device (always 0 on current kernels).
    public var invalidIO = 0
    /// Slots freed by swap_slot_free_notify.
    public var notifyFree = 0

    /// The kernel's field names as coding keys.
    enum CodingKeys: String, CodingKey {
        case failedReads = "failed_reads", failedWrites = "failed_writes", invalidIO = "invalid_io", notifyFree = "notify_free"
    }

    /// All zero.
    public init() {}

    /// Parses the kernel's line (4 fields).
    public init(line: String, path: String = "io_stat") throws(KernelZramError) {
        guard let v = KernelCounters.parse(line), v.count == 4 else { throw .malformed(path: path, text: line) }
        (failedReads, failedWrites, invalidIO, notifyFree) = (v[0], v[1], v[2], v[3])
    }

    /// The fields in the kernel's order.
    public var values: [Int] { [failedReads, failedWrites, invalidIO, notifyFree] }
}
