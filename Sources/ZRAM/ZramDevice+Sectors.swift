import PageStore

extension ZramDevice {
    /// The sector size of byte-range I/O (SECTOR_SIZE): offsets and lengths are multiples of it.
    public static let sectorSize = 512

    /// The device's size in bytes.
    public var disksize: Int { slotCount * pageSize }

    func checkRange(offset: Int, length: Int) throws(ZramError) {
        guard offset % Self.sectorSize == 0, length % Self.sectorSize == 0, offset >= 0, length >= 0 else {
            throw .unalignedIO(offset: offset, length: length)
        }
        guard offset <= disksize, length <= disksize - offset else {
            throw .outOfRange(offset: offset, length: length, disksize: disksize)
        }
    }

    /// Calls `body` for each page that the checked byte range `offset..<offset+length`
    /// touches, in order, with its slot, where the range starts within it, how many of its
    /// bytes are in the range, and how many bytes of the range come before it. The first page
    /// error ends the walk and is thrown as ``ZramError/page(_:)``.
    @inline(__always)
    func forEachPage(
        offset: Int, length: Int,
        _ body: (_ slot: Int, _ within: Int, _ chunk: Int, _ done: Int) throws(PageStoreError) -> Void
    ) throws(ZramError) {
        var done = 0
        while done < length {
            let position = offset + done
            let within = position % pageSize
            let chunk = min(pageSize - within, length - done)
            do throws(PageStoreError) { try body(position / pageSize, within, chunk, done) } catch { throw .page(error) }
            done += chunk
        }
    }

    /// Reads `buffer.count` bytes from byte `offset`, as a block device does: unwritten pages
    /// read as zeros; a partial page is decompressed whole and the wanted part copied.
    ///
    /// - Throws: ``ZramError/unalignedIO(offset:length:)``, ``ZramError/outOfRange(offset:length:disksize:)``,
    ///   or ``ZramError/page(_:)`` when a page fails to decompress.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(ZramError) {
        try checkRange(offset: offset, length: buffer.count)
        guard buffer.count > 0 else { return }
        try streams.withStream { (stream) throws(ZramError) in
            try forEachPage(offset: offset, length: buffer.count) { (slot, within, chunk, done) throws(PageStoreError) in
                if chunk == pageSize {
                    let target = UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + chunk)])
                    try load(slot, into: target, using: stream, emptyIsError: false)
                } else {
                    try load(slot, into: stream.page, using: stream, emptyIsError: false)
                    (buffer.baseAddress! + done).copyMemory(from: stream.page.baseAddress! + within, byteCount: chunk)
                }
            }
        }
    }

    /// Writes `bytes` at byte `offset`. Whole pages are stored directly; a partial page is
    /// read, modified and written back (zram's read-modify-write of a partial bvec). Each page is
    /// replaced only when its write succeeds; on an error, pages before it stay written.
    ///
    /// Concurrent partial writes to the same page must be ordered by the caller, as a block
    /// device's users do. With ``ZramConfiguration/automaticWriteback`` a write that leaves the
    /// pool at or above the high watermark then writes idle pages back, as
    /// ``writePage(_:at:)`` does.
    /// - Throws: ``ZramError/unalignedIO(offset:length:)``, ``ZramError/outOfRange(offset:length:disksize:)``,
    ///   or ``ZramError/page(_:)`` (e.g. the memory limit; that page keeps its old contents).
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(ZramError) {
        try checkRange(offset: offset, length: bytes.count)
        guard bytes.count > 0 else { return }
        try streams.withStream { (stream) throws(ZramError) in
            try forEachPage(offset: offset, length: bytes.count) { (slot, within, chunk, done) throws(PageStoreError) in
                if chunk == pageSize {
                    try store(UnsafeRawBufferPointer(rebasing: bytes[done..<(done + chunk)]), at: slot, using: stream)
                } else {
                    try load(slot, into: stream.page, using: stream, emptyIsError: false)
                    (stream.page.baseAddress! + within).copyMemory(from: bytes.baseAddress! + done, byteCount: chunk)
                    try store(UnsafeRawBufferPointer(stream.page), at: slot, using: stream)
                }
            }
            writeBackIfAboveHighWatermark(using: stream)
        }
    }

    /// Discards `length` bytes at `offset`: frees every whole page inside the range; partial
    /// pages at either end are left as they are, as zram's discard does.
    public func discard(bytesAt offset: Int, length: Int) throws(ZramError) {
        try checkRange(offset: offset, length: length)
        var first = offset / pageSize
        if offset % pageSize != 0 { first += 1 }
        let end = (offset + length) / pageSize
        guard first < end else { return }
        for slot in first..<end { discard(slot) }
    }
}
