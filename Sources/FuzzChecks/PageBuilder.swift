import Workloads

/// Fills a page from fuzz input, so the fuzzer controls how it compresses: a zero page, one
/// repeated word (same-filled), noise (incompressible), the input's next bytes as they are
/// (how the seeds carry real pages), or a run of segments (literal bytes
/// from the input, fills, copies of earlier bytes at a chosen distance, noise) that the fuzzer
/// mutates into anything from highly compressible to just incompressible.
///
/// Writes the page in place, allocates nothing; a page the input runs out for is finished
/// with zeros.
public enum PageBuilder {
    /// The most segments one page takes from the input.
    public static let maximumSegments = 32

    /// The command byte that makes ``build(_:from:)`` copy the page from the input's next bytes.
    public static let rawPage: UInt8 = 3

    /// Fills all of `page` from `input`.
    public static func build(_ page: UnsafeMutableRawBufferPointer, from input: inout FuzzInput) {
        let count = page.count
        guard count > 0 else { return }
        let kind = input.byte()
        switch kind & 7 {
        case 0:
            page.initializeMemory(as: UInt8.self, repeating: 0)
        case 1:
            fillWord(page, input.uint64())
        case 2:
            fillNoise(page, from: 0, count: count, seed: UInt64(input.uint32()))
        case 3:
            let bytes = input.take(count)
            if bytes.count > 0 { page.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            if bytes.count < count {
                (page.baseAddress! + bytes.count).initializeMemory(as: UInt8.self, repeating: 0, count: count - bytes.count)
            }
        default:
            var position = 0
            let segments = Int(kind >> 3) % maximumSegments + 1
            for _ in 0..<segments where position < count && !input.isExhausted {
                position += segment(page, at: position, from: &input)
            }
            if position < count {
                (page.baseAddress! + position).initializeMemory(as: UInt8.self, repeating: 0, count: count - position)
            }
        }
    }

    /// One segment at `position`; returns how many bytes it wrote.
    private static func segment(_ page: UnsafeMutableRawBufferPointer, at position: Int, from input: inout FuzzInput) -> Int {
        let command = input.byte()
        let room = page.count - position
        switch command & 3 {
        case 0:
            let bytes = input.take(min(Int(command >> 2) + 1, room))
            if bytes.count > 0 { (page.baseAddress! + position).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            return bytes.count
        case 1:
            let length = min(Int(input.uint16()) % 4096 + 1, room)
            (page.baseAddress! + position).initializeMemory(as: UInt8.self, repeating: input.byte(), count: length)
            return length
        case 2:
            guard position > 0 else { return 0 }
            let distance = Int(input.uint16()) % position + 1
            let length = min(Int(input.byte()) * 4 + 4, room)
            for k in 0..<length { page[position + k] = page[position + k - distance] }
            return length
        default:
            let length = min(Int(input.uint16()) % 4096 + 1, room)
            fillNoise(page, from: position, count: length, seed: UInt64(input.byte()))
            return length
        }
    }

    /// `word` repeated over the page (see `SameFilled.fill`).
    static func fillWord(_ page: UnsafeMutableRawBufferPointer, _ word: UInt64) {
        var offset = 0
        while offset + 8 <= page.count {
            page.storeBytes(of: word, toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        while offset < page.count {
            page[offset] = UInt8(truncatingIfNeeded: word >> (8 * UInt64(offset & 7)))
            offset += 1
        }
    }

    /// SplitMix64 noise over `count` bytes from `start`.
    static func fillNoise(_ page: UnsafeMutableRawBufferPointer, from start: Int, count: Int, seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var offset = start
        let end = start + count
        while offset < end {
            var word = random.next()
            for _ in 0..<min(8, end - offset) {
                page[offset] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                offset += 1
            }
        }
    }
}
