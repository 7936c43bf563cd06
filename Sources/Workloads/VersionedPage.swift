/// Pages whose contents are a function of (page, version): a test or benchmark that counts the
/// writes to each page can check every byte it reads. Even words are distinct, odd words repeat
/// one value per page, so a page compresses about 2:1 (like heap memory, unlike random bytes).
public enum VersionedPage {
    /// Word `index` of page `page` at `version`.
    @inline(__always)
    public static func word(page: Int, version: UInt32, index: Int) -> UInt64 {
        if index & 1 == 0 {
            return UInt64(page) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(version) &* 0xBF58_476D_1CE4_E5B9 &+ UInt64(index)
        }
        return UInt64(page) | UInt64(version) << 40
    }

    /// Writes page `page` at `version` (`pageSize` bytes, a multiple of 8) at `base + page * pageSize`.
    @inline(__always)
    public static func fill(_ base: UnsafeMutableRawPointer, page: Int, version: UInt32, pageSize: Int) {
        let words = base + page * pageSize
        for i in 0..<(pageSize / 8) {
            words.storeBytes(of: word(page: page, version: version, index: i), toByteOffset: i * 8, as: UInt64.self)
        }
    }

    /// Whether page `page` at `base + page * pageSize` holds exactly `version`'s contents.
    @inline(__always)
    public static func verify(_ base: UnsafeRawPointer, page: Int, version: UInt32, pageSize: Int) -> Bool {
        let words = base + page * pageSize
        for i in 0..<(pageSize / 8) where words.load(fromByteOffset: i * 8, as: UInt64.self) != word(page: page, version: version, index: i) {
            return false
        }
        return true
    }
}
