/// Same-filled pages: pages that are one 8-byte machine word repeated (most often all zeros).
///
/// Like the kernel's zram (`page_same_filled`), a store keeps such a page as its word alone and
/// never compresses it. The check costs about as much as reading the page once, and far less on
/// ordinary pages, which almost always differ in their first or last word.
///
/// Words are read in memory order with `loadUnaligned`, so the word is the host's
/// (little-endian on x86-64 and arm64) reading of the page's first eight bytes, and
/// ``fill(_:with:)`` writes it back the same way: `fill(page, with: word(of: page)!)` recreates
/// `page` exactly.
public enum SameFilled {
    /// The word that `page` repeats, or `nil` when `page` is not one word repeated.
    ///
    /// Compares the first and last words first (rejecting almost every ordinary page at once),
    /// then scans the rest four words per step.
    ///
    /// A buffer whose length is not a positive multiple of 8 is never same-filled: the result is
    /// `nil` (every page size is a multiple of 8, so this only concerns odd buffers).
    public static func word(of page: UnsafeRawBufferPointer) -> UInt64? {
        let count = page.count
        guard count >= 8, count & 7 == 0, let base = page.baseAddress else { return nil }
        let first = base.loadUnaligned(as: UInt64.self)
        guard base.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self) == first else { return nil }
        var offset = 8
        let wideEnd = count - 8 - 32  // the last word is already checked
        while offset <= wideEnd {
            let a = base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            let b = base.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)
            let c = base.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self)
            let d = base.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self)
            if (a ^ first) | (b ^ first) | (c ^ first) | (d ^ first) != 0 { return nil }
            offset &+= 32
        }
        while offset < count - 8 {
            if base.loadUnaligned(fromByteOffset: offset, as: UInt64.self) != first { return nil }
            offset &+= 8
        }
        return first
    }

    /// Fills `buffer` with `word` repeated: the inverse of ``word(of:)``.
    ///
    /// When the length is not a multiple of 8, the last `count % 8` bytes get the word's first
    /// bytes in memory order, as if the repetition were cut off at the end of the buffer.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer, with word: UInt64) {
        guard let base = buffer.baseAddress else { return }
        let count = buffer.count
        let words = count / 8
        if word == 0 {
            base.initializeMemory(as: UInt8.self, repeating: 0, count: count)
            return
        }
        var offset = 0
        for _ in 0..<words {
            base.storeBytes(of: word, toByteOffset: offset, as: UInt64.self)
            offset &+= 8
        }
        let tail = count - offset
        if tail > 0 {
            withUnsafeBytes(of: word) { bytes in
                (base + offset).copyMemory(from: bytes.baseAddress!, byteCount: tail)
            }
        }
    }
}
