// PLACEHOLDER (scaffolding, replaced by the real codec): literal-only LZ4 blocks, simple safe decoder.
public final class LZ4Codec: PageCodec {
    public let acceleration: Int
    public init(acceleration: Int = 1) { self.acceleration = max(1, acceleration) }
    public var name: String { "lz4" }
    public func maxCompressedSize(for n: Int) -> Int { n + n / 255 + 16 }
    public func compress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer) -> Int? {
        let n = src.count
        var o = 0
        guard dst.count >= maxCompressedSize(for: n) else { return nil }
        if n >= 15 {
            dst[o] = 0xF0; o += 1
            var rest = n - 15
            while rest >= 255 { dst[o] = 255; o += 1; rest -= 255 }
            dst[o] = UInt8(rest); o += 1
        } else { dst[o] = UInt8(n << 4); o += 1 }
        if n > 0 { dst.baseAddress!.advanced(by: o).copyMemory(from: src.baseAddress!, byteCount: n) }
        return o + n
    }
    public func decompress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
        var i = 0, o = 0
        while true {
            guard i < src.count else { throw .truncatedInput(offset: i) }
            let token = Int(src[i]); i += 1
            var lit = token >> 4
            if lit == 15 {
                while true {
                    guard i < src.count else { throw .truncatedInput(offset: i) }
                    let b = Int(src[i]); i += 1; lit += b
                    if b != 255 { break }
                }
            }
            guard lit <= src.count - i else { throw .truncatedInput(offset: i) }
            guard lit <= dst.count - o else { throw .outputOverflow(capacity: dst.count) }
            for k in 0..<lit { dst[o + k] = src[i + k] }
            i += lit; o += lit
            if i == src.count { return o }
            guard i + 2 <= src.count else { throw .truncatedInput(offset: i) }
            let off = Int(src[i]) | Int(src[i + 1]) << 8; i += 2
            guard off != 0, off <= o else { throw .invalidOffset(offset: i - 2, distance: off) }
            var ml = (token & 15) + 4
            if token & 15 == 15 {
                while true {
                    guard i < src.count else { throw .truncatedInput(offset: i) }
                    let b = Int(src[i]); i += 1; ml += b
                    if b != 255 { break }
                }
            }
            guard ml <= dst.count - o else { throw .outputOverflow(capacity: dst.count) }
            for k in 0..<ml { dst[o + k] = dst[o - off + k] }
            o += ml
        }
    }
}
