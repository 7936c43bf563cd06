/// The page contents `USwapTestHelper` writes into its anonymous mappings, and that the tests
/// reading that process's memory expect: each pattern is a function of the page index alone,
/// so a reader can recompute any page.
public enum MemoryPattern: String, CaseIterable, Sendable {
    /// All zero, written (so the pages are present).
    case zero
    /// One non-zero 8-byte word repeated; a different word per page (``sameWord(page:)``).
    case same
    /// Pseudo-random bytes (incompressible): the SplitMix64 stream of ``randomSeed`` over the
    /// whole mapping, word after word.
    case random
    /// ``sentence`` repeated over the whole mapping.
    case text
    /// Never written: the pages are not present.
    case untouched

    /// The English sentence ``text`` repeats.
    public static let sentence = Array("The quick brown fox jumps over the lazy dog while the zram pool counts its pages. ".utf8)
    /// The seed of ``random``'s stream.
    public static let randomSeed = SplitMix64.golden

    /// The word page `page` of ``same`` repeats: `0x0101...01 * (page % 255 + 1)` with one byte
    /// flipped, never zero.
    public static func sameWord(page: Int) -> UInt64 {
        (0x0101_0101_0101_0101 &* UInt64(page % 255 + 1)) ^ 0x00F0_0000_0000_0000
    }

    /// Whether the pattern writes its pages (all but ``untouched``).
    public var touchesPages: Bool { self != .untouched }

    /// Writes page `page` of the pattern into `destination` (one page; its size is the page
    /// size, a multiple of 8). ``untouched`` writes nothing.
    public func write(page: Int, into destination: UnsafeMutableRawBufferPointer) {
        let pageSize = destination.count
        switch self {
        case .zero:
            destination.initializeMemory(as: UInt8.self, repeating: 0)
        case .same:
            let word = Self.sameWord(page: page)
            for offset in stride(from: 0, to: pageSize, by: 8) { destination.storeBytes(of: word, toByteOffset: offset, as: UInt64.self) }
        case .random:
            let first = page * pageSize / 8
            for word in 0..<(pageSize / 8) {
                let value = SplitMix64.output(first + word, seed: Self.randomSeed)
                destination.storeBytes(of: value, toByteOffset: word * 8, as: UInt64.self)
            }
        case .text:
            let sentence = Self.sentence
            var index = (page * pageSize) % sentence.count
            for offset in 0..<pageSize {
                destination[offset] = sentence[index]
                index = index + 1 == sentence.count ? 0 : index + 1
            }
        case .untouched:
            break
        }
    }

    /// Writes pages `0..<pages` of the pattern, back to back from `base`.
    public func fill(_ base: UnsafeMutableRawPointer, pages: Int, pageSize: Int) {
        for page in 0..<pages {
            write(page: page, into: UnsafeMutableRawBufferPointer(start: base + page * pageSize, count: pageSize))
        }
    }

    /// Page `page` as a reader should find it (zeros for ``untouched``).
    public func expectedPage(_ page: Int, pageSize: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: pageSize)
        bytes.withUnsafeMutableBytes { write(page: page, into: $0) }
        return bytes
    }
}
