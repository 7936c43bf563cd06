import PageCodecs
import PageStore

/// One codec's side of an analysis: its stream, its pool, and what it has seen.
///
/// Owns a scratch buffer of `maxCompressedSize(pageSize)` bytes (allocated in `init`, freed in
/// `deinit`) that `add` compresses into; the per-mapping array is sized once, never grown.
final class CodecSink {
    let codec: PageCodecFactory
    let stream: any PageCodec
    let pool: any SwapBackend
    let pageSize: Int
    private let scratch: UnsafeMutableRawBufferPointer
    private(set) var histogram = [0, 0, 0, 0]
    private(set) var rawPages = 0
    private(set) var compressedBytes: [Int]

    init(codec: PageCodecFactory, stream: any PageCodec, pool: any SwapBackend, pageSize: Int, mappings: Int) {
        self.codec = codec
        self.stream = stream
        self.pool = pool
        self.pageSize = pageSize
        scratch = .allocate(byteCount: max(pageSize, stream.maxCompressedSize(for: pageSize)), alignment: 16)
        compressedBytes = [Int](repeating: 0, count: mappings)
    }

    deinit { scratch.deallocate() }

    /// Debug builds: checks the scratch holds a worst-case compressed page, the histogram has
    /// four quarters, and the counts agree.
    func checkInvariants() {
        #if DEBUG
        precondition(scratch.count >= max(pageSize, stream.maxCompressedSize(for: pageSize)), "scratch too small")
        precondition(histogram.count == 4 && histogram.allSatisfy { $0 >= 0 }, "histogram damaged")
        precondition(rawPages <= histogram[3], "raw pages are counted in the last quarter")
        #endif
    }

    /// Compresses `page` (unless same-filled) for the histogram and stores it in the pool at `slot`.
    func add(_ page: UnsafeRawBufferPointer, slot: Int, mapping: Int, isSame: Bool) throws(MemoryAnalysisError) {
        if !isSame {
            let size = min(stream.compress(page, into: scratch) ?? pageSize, pageSize)
            if size >= pageSize { rawPages += 1 }
            histogram[min(3, max(0, (size - 1) * 4 / pageSize))] += 1
            compressedBytes[mapping] += size
        }
        do {
            try pool.writePage(page, at: slot)
        } catch {
            throw .pool(codec: codec.description, reason: error.description)
        }
    }
}
