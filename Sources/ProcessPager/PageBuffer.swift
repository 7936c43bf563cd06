/// Page-aligned memory for whole 4 KiB pages: the fault reader's decompression page and zero
/// page, the evictor's read buffer for a scratch half.
///
/// **Memory and ownership.** The buffer owns `pages` x 4 KiB, allocated (page-aligned) in `init`
/// and freed in `deinit`; one pager thread uses it. Pointers from ``page(_:)`` must not outlive
/// the buffer. Invariant: the base is 4096-aligned and `pages > 0`.
final class PageBuffer: @unchecked Sendable {
    // @unchecked Sendable: made on one thread and then used by the one thread that owns it.

    /// The first byte.
    let base: UnsafeMutableRawPointer
    /// Pages in the buffer.
    let pages: Int

    /// A buffer of `pages` pages; zero-filled when `zeroed`.
    init(pages: Int, zeroed: Bool = false) {
        precondition(pages > 0, "a page buffer holds at least one page")
        self.pages = pages
        base = .allocate(byteCount: pages * 4096, alignment: 4096)
        if zeroed { base.initializeMemory(as: UInt8.self, repeating: 0, count: pages * 4096) }
    }

    deinit { base.deallocate() }

    /// The start of page `index`.
    @inline(__always)
    func page(_ index: Int) -> UnsafeMutableRawPointer { base + index * 4096 }

    /// Page `index` as bytes.
    @inline(__always)
    func bytes(_ index: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: page(index), count: 4096) }

    /// Debug-only: alignment and size.
    func checkInvariants() {
        #if DEBUG
        precondition(UInt(bitPattern: base) % 4096 == 0, "page buffer not page-aligned")
        precondition(pages > 0, "empty page buffer")
        #endif
    }
}
