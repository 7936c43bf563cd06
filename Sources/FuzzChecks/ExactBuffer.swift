#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A heap buffer of exactly ``count`` bytes, with no slack after its end, so that
/// AddressSanitizer (the fuzz build's `-sanitize=address`) reports any read or write past either
/// end of a buffer handed to the code under test.
///
/// **Memory.** Allocated in `init` (a zero-byte buffer still gets its own allocation, so its
/// address is never `nil` and any access to it is reported), freed in `deinit`; the value is
/// `~Copyable`, so exactly one owner frees it. **Invariant**: ``bytes`` covers the whole
/// allocation and its bytes are initialized.
public struct ExactBuffer: ~Copyable {
    /// The bytes, all of them.
    public let bytes: UnsafeMutableRawBufferPointer
    private let base: UnsafeMutableRawPointer

    /// A buffer of `count` bytes, each set to `fill`.
    public init(count: Int, fill: UInt8 = 0) {
        precondition(count >= 0, "a buffer needs a size of 0 or more bytes")
        base = .allocate(byteCount: count, alignment: 1)
        bytes = UnsafeMutableRawBufferPointer(start: base, count: count)
        bytes.initializeMemory(as: UInt8.self, repeating: fill)
    }

    /// A buffer holding a copy of `source`.
    public init(copying source: UnsafeRawBufferPointer) {
        self.init(count: source.count)
        if let from = source.baseAddress, source.count > 0 { base.copyMemory(from: from, byteCount: source.count) }
    }

    deinit { base.deallocate() }

    /// The size in bytes.
    public var count: Int { bytes.count }

    /// The bytes, read-only.
    public var readOnly: UnsafeRawBufferPointer { UnsafeRawBufferPointer(bytes) }

    /// The first `n` bytes (`n` clamped to the buffer).
    public func prefix(_ n: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: readOnly[..<min(max(0, n), count)])
    }

    /// Whether the first `n` bytes equal `other`'s first `n`.
    public func hasPrefix(_ n: Int, equalTo other: UnsafeRawBufferPointer) -> Bool {
        guard n <= count, n <= other.count else { return false }
        return n == 0 || memcmp(base, other.baseAddress!, n) == 0
    }

    /// Debug builds: checks that the view still covers the allocation.
    public func checkInvariants() {
        #if DEBUG
        precondition(bytes.baseAddress == base, "an exact buffer's view moved off its allocation")
        #endif
    }
}

/// The first index where two byte ranges of the same length differ, for messages.
func firstDifference(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int? {
    let n = min(a.count, b.count)
    for i in 0..<n where a[i] != b[i] { return i }
    return a.count == b.count ? nil : n
}
