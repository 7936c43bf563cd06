// PLACEHOLDER (scaffolding, replaced by the real dlopen'd libzstd codec).
public final class ZstdCodec: PageCodec {
    public let level: Int
    public init(level: Int) throws(CodecError) {
        self.level = level
        throw .libraryUnavailable(library: "libzstd.so.1", reason: "not wired yet")
    }
    public var name: String { "zstd-\(level)" }
    public func maxCompressedSize(for n: Int) -> Int { n + n / 128 + 64 }
    public func compress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer) -> Int? { nil }
    public func decompress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
        throw .libraryUnavailable(library: "libzstd.so.1", reason: "not wired yet")
    }
}
