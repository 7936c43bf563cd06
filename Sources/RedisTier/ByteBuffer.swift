/// A connection's send or receive buffer: bytes `readIndex..<writeIndex` of one allocation are
/// pending (to send, or received and not parsed yet).
///
/// **Memory and ownership.** The buffer owns one allocation of ``capacity`` bytes, made in
/// `init`, replaced only by ``reserve(_:)`` (which the data path never needs: the connection
/// sizes its buffers for the largest page command and reply) and freed in `deinit`. Pointers it
/// hands out are valid until the next call that changes it.
///
/// **Invariant.** `0 <= readIndex <= writeIndex <= capacity`; once everything is consumed both
/// indices return to 0, so a buffer whose traffic fits never moves bytes.
struct ByteBuffer: ~Copyable {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    private(set) var readIndex = 0
    private(set) var writeIndex = 0

    /// An empty buffer of `capacity` bytes.
    init(capacity: Int) {
        precondition(capacity > 0, "a buffer needs room")
        self.capacity = capacity
        base = .allocate(byteCount: capacity, alignment: 64)
    }

    deinit { base.deallocate() }

    /// Bytes waiting to be sent or parsed.
    var readableCount: Int { writeIndex - readIndex }
    /// The pending bytes.
    var readable: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base + readIndex, count: readableCount) }
    /// Room after the pending bytes.
    var writableCount: Int { capacity - writeIndex }
    /// Where the next bytes go.
    var writePointer: UnsafeMutableRawPointer { base + writeIndex }

    /// Marks `n` more bytes as written at ``writePointer``.
    mutating func didWrite(_ n: Int) {
        precondition(n >= 0 && n <= writableCount, "wrote past the buffer")
        writeIndex += n
    }

    /// Marks `n` pending bytes as consumed.
    mutating func consume(_ n: Int) {
        precondition(n >= 0 && n <= readableCount, "consumed more than is pending")
        readIndex += n
        if readIndex == writeIndex { readIndex = 0; writeIndex = 0 }
    }

    /// Drops everything pending (a connection that broke).
    mutating func clear() { readIndex = 0; writeIndex = 0 }

    /// Makes room for `n` more bytes after the pending ones: moves the pending bytes to the
    /// front, and grows the allocation only if they still do not fit.
    mutating func reserve(_ n: Int) {
        if writableCount >= n { return }
        if readIndex > 0 {
            let pending = readableCount
            if pending > 0 { base.copyMemory(from: base + readIndex, byteCount: pending) }
            readIndex = 0
            writeIndex = pending
            if writableCount >= n { return }
        }
        var newCapacity = capacity
        while newCapacity - writeIndex < n { newCapacity *= 2 }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 64)
        if writeIndex > 0 { grown.copyMemory(from: base, byteCount: writeIndex) }
        base.deallocate()
        base = grown
        capacity = newCapacity
    }

    // MARK: Appending (room must have been reserved)

    /// Appends `bytes`.
    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        writePointer.copyMemory(from: source, byteCount: bytes.count)
        writeIndex += bytes.count
    }

    /// Appends one byte.
    @inline(__always)
    mutating func append(byte: UInt8) {
        reserve(1)
        writePointer.storeBytes(of: byte, as: UInt8.self)
        writeIndex += 1
    }

    /// Appends `value` in decimal.
    @inline(__always)
    mutating func append(decimal value: Int) {
        reserve(20)
        var v = value.magnitude
        var digits = 0
        repeat { digits += 1; v /= 10 } while v > 0
        if value < 0 { append(byte: UInt8(ascii: "-")) }
        v = value.magnitude
        let p = writePointer
        for i in stride(from: digits - 1, through: 0, by: -1) {
            p.storeBytes(of: UInt8(truncatingIfNeeded: 48 + v % 10), toByteOffset: i, as: UInt8.self)
            v /= 10
        }
        writeIndex += digits
    }

    /// Appends "\r\n".
    @inline(__always)
    mutating func appendCRLF() {
        reserve(2)
        writePointer.storeBytes(of: 13, as: UInt8.self)
        writePointer.storeBytes(of: 10, toByteOffset: 1, as: UInt8.self)
        writeIndex += 2
    }

    /// Checks the invariant; debug builds only.
    func checkInvariants() {
        #if DEBUG
        precondition(readIndex >= 0 && readIndex <= writeIndex && writeIndex <= capacity, "buffer indices out of order")
        #endif
    }
}
