import Foundation
import PageCodecs
import Workloads

/// Pages like the ones a process's heap holds, made here so the seed corpora need nothing but
/// this package: zeros, text, small integers, pointers, records with headers, sparse data,
/// noise, and mixtures. Deterministic: the same pages on every machine.
public enum SeedPages {
    /// The page size the seeds use.
    public static let pageSize = 4096

    /// Twelve pages, one of each kind.
    public static func pages() -> [[UInt8]] {
        (0..<12).map { page(kind: $0) }
    }

    /// Sixteen pages of the repository's page corpus (`Tests/Corpus/mixed-small.bin.zst`, real
    /// heap pages of a JVM, Perl, Node and Python), every 128th, or none when the corpus or
    /// libzstd is missing. Only seed writing reads it; the seeds it makes are committed.
    public static func corpusPages() -> [[UInt8]] {
        let path = URL(fileURLWithPath: FuzzCorpus.root()).deletingLastPathComponent().appendingPathComponent("Corpus/mixed-small.bin.zst").path
        guard let frame = FileManager.default.contents(atPath: path), let zstd = try? ZstdCodec(level: 1) else { return [] }
        var whole = [UInt8](repeating: 0, count: 2048 * pageSize)
        let size = frame.withUnsafeBytes { src in whole.withUnsafeMutableBytes { try? zstd.decompress(src, into: $0) } }
        guard let size, size >= pageSize else { return [] }
        return stride(from: 0, to: size / pageSize, by: 128).map { Array(whole[($0 * pageSize)..<(($0 + 1) * pageSize)]) }
    }

    /// The page of one kind (0..<12).
    static func page(kind: Int) -> [UInt8] {
        var page = [UInt8](repeating: 0, count: pageSize)
        var random = SplitMix64(seed: UInt64(kind) &* SplitMix64.golden)
        let words = ["swap", "page", "zram", "slot", "memory", "compressed", "kernel", "the", "of", "and", "pool", "{\"id\":", "null", "true"]
        page.withUnsafeMutableBytes { bytes in
            switch kind {
            case 0: break  // zeros
            case 1:  // text
                var i = 0
                while i < pageSize {
                    for b in words[Int(random.next() % UInt64(words.count))].utf8 where i < pageSize { bytes[i] = b; i += 1 }
                    if i < pageSize { bytes[i] = 0x20; i += 1 }
                }
            case 2:  // small integers (a counter array)
                for i in 0..<(pageSize / 4) { bytes.storeBytes(of: UInt32(i * 3 + Int(random.next() % 4)), toByteOffset: i * 4, as: UInt32.self) }
            case 3:  // pointers into one region, some null
                for i in 0..<(pageSize / 8) {
                    let p: UInt64 = random.next() % 5 == 0 ? 0 : 0x0000_7F3A_1200_0000 | (random.next() & 0xF_FFF8)
                    bytes.storeBytes(of: p, toByteOffset: i * 8, as: UInt64.self)
                }
            case 4:  // 64-byte records: header, length, payload, padding
                for r in 0..<(pageSize / 64) {
                    bytes.storeBytes(of: UInt32(0xC0FF_EE00 | UInt32(r & 0xFF)), toByteOffset: r * 64, as: UInt32.self)
                    bytes.storeBytes(of: UInt32(random.next() % 40), toByteOffset: r * 64 + 4, as: UInt32.self)
                    for k in 8..<(8 + Int(random.next() % 40)) { bytes[r * 64 + k] = UInt8(truncatingIfNeeded: random.next() % 26 + 97) }
                }
            case 5:  // sparse: a few nonzero words
                for _ in 0..<24 { bytes.storeBytes(of: random.next(), toByteOffset: Int(random.next() % UInt64(pageSize / 8)) * 8, as: UInt64.self) }
            case 6:  // noise
                PageBuilder.fillNoise(bytes, from: 0, count: pageSize, seed: random.next())
            case 7:  // half noise, half zeros
                PageBuilder.fillNoise(bytes, from: 0, count: pageSize / 2, seed: random.next())
            case 8:  // one repeated word (same-filled)
                PageBuilder.fillWord(bytes, 0xDEAD_BEEF_0000_0001)
            case 9:  // a short period (overlapping matches at offsets 1..7)
                for i in 0..<pageSize { bytes[i] = UInt8(truncatingIfNeeded: (i % 7) * 31) }
            case 10:  // doubles
                for i in 0..<(pageSize / 8) { bytes.storeBytes(of: (Double(i) * 0.37 + Double(random.next() % 100)).bitPattern, toByteOffset: i * 8, as: UInt64.self) }
            default:  // noise with runs: almost incompressible, a few long matches
                PageBuilder.fillNoise(bytes, from: 0, count: pageSize, seed: random.next())
                for k in 0..<600 { bytes[2000 + k] = bytes[100 + k] }
            }
        }
        return page
    }

    /// `page` compressed by `codec`, or `nil` when it does not fit the codec's bound.
    public static func compress(_ page: [UInt8], with codec: any PageCodec) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: codec.maxCompressedSize(for: page.count))
        let size = page.withUnsafeBytes { source in out.withUnsafeMutableBytes { codec.compress(source, into: $0) } }
        guard let size else { return nil }
        return Array(out[..<size])
    }
}
