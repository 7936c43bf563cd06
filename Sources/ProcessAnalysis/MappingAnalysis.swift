/// The figures of one mapping of the analysed process.
public struct MappingAnalysis: Sendable, Equatable {
    /// The mapping as `/proc/PID/maps` lists it.
    public var mapping: MemoryMapping
    /// Pages in RAM when the page map was read.
    public var presentPages = 0
    /// Pages swapped out (skipped: reading them would swap them in).
    public var swappedPages = 0
    /// Pages neither present nor swapped (skipped: never touched).
    public var notPresentPages = 0
    /// Pages read and analysed.
    public var scannedPages = 0
    /// Scanned pages that are all zero.
    public var zeroPages = 0
    /// Scanned pages that are one non-zero word repeated.
    public var sameFilledPages = 0
    /// Per codec (in the report's codec order): the bytes its compressed pages take, each page
    /// counted as `min(compressed size, page size)`, same-filled pages as 0.
    public var compressedBytes: [Int] = []

    /// Nothing counted yet for `mapping`, with room for `codecs` codecs' figures.
    public init(mapping: MemoryMapping, codecs: Int) {
        self.mapping = mapping
        compressedBytes = [Int](repeating: 0, count: codecs)
    }

    /// Scanned bytes over compressed bytes for codec `index`; infinite when every scanned page
    /// is same-filled, `nil` when nothing was scanned.
    public func ratio(codec index: Int, pageSize: Int) -> Double? {
        guard scannedPages > 0 else { return nil }
        let compressed = compressedBytes[index]
        return compressed == 0 ? .infinity : Double(scannedPages * pageSize) / Double(compressed)
    }
}
