import SystemPackage
import SystemSupport

/// A heap buffer whose start is aligned for direct I/O.
///
/// Memory: allocated with `posix_memalign` in `init`, owned by this object alone, freed in
/// `deinit`; ``bytes`` is valid exactly as long as the object lives and must not escape it.
/// Invariant: `bytes.baseAddress` is a multiple of ``alignment`` and `bytes.count` is the size
/// asked for; the methods never change either.
final class AlignedBuffer {
    /// The buffer (aligned, ``byteCount`` bytes, zero-filled at creation).
    let bytes: UnsafeMutableRawBufferPointer
    /// The alignment of `bytes.baseAddress`.
    let alignment: Int

    /// Allocates `byteCount` bytes aligned to `alignment` (a power of two, at least a pointer).
    init(byteCount: Int, alignment: Int) throws(DirectIOError) {
        precondition(byteCount > 0 && alignment >= MemoryLayout<UnsafeRawPointer>.size && alignment & (alignment - 1) == 0,
                     "AlignedBuffer needs a positive size and a power-of-two alignment")
        var pointer: UnsafeMutableRawPointer?
        do { try SystemCall.check(posix_memalign(&pointer, alignment, byteCount)) } catch {
            throw .allocation(bytes: byteCount, errno: error)
        }
        guard let pointer else { throw .allocation(bytes: byteCount, errno: .noMemory) }
        memset(pointer, 0, byteCount)
        bytes = UnsafeMutableRawBufferPointer(start: pointer, count: byteCount)
        self.alignment = alignment
    }

    /// The size in bytes.
    var byteCount: Int { bytes.count }

    deinit { free(bytes.baseAddress) }

    /// Checks the alignment invariant (debug builds only).
    func checkInvariants() {
        #if DEBUG
        let address = Int(bitPattern: bytes.baseAddress)
        precondition(address % alignment == 0, "AlignedBuffer lost its alignment")
        precondition(bytes.count > 0, "AlignedBuffer is empty")
        #endif
    }
}
