/// Objects the tier tests write: object `i` has a length from 1 to 4096 bytes and contents that
/// depend on `i`, so an object read back under another handle, or cut short, is caught.
enum TestPages {
    /// Object `i`'s bytes.
    static func object(_ i: Int) -> [UInt8] {
        let length = 1 + (i &* 977 &+ 31) % 4096
        return (0..<length).map { j in UInt8(truncatingIfNeeded: (i &* 131) ^ (j &* 7) ^ (j >> 8)) }
    }
}
