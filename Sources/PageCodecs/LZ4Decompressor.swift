/// The safe LZ4 block decoder: decodes every valid block and throws a ``CodecError`` for any
/// other input, never reading outside the source nor writing outside the destination.
///
/// Two loops, as liblz4's `LZ4_decompress_safe`: a fast loop that runs while the output has at
/// least `LZ4Format.fastLoopOutputMargin` bytes left and the input enough for a short sequence,
/// using blind 16-byte literal copies and 8/16-byte match copies; and a careful loop that checks
/// every length exactly, for the block's last bytes. A sequence the fast loop cannot prove safe
/// (a long run near an end, the input ending inside a length) is re-decoded from its token by the
/// careful loop, which gives the precise error. Stateless; no memory of its own.
enum LZ4Decompressor {
    /// Decodes the block in `source` into `destination`; the number of bytes written.
    static func decompress(
        _ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer
    ) throws(CodecError) -> Int {
        guard let istart = source.baseAddress, source.count > 0 else {
            throw .truncatedInput(offset: 0)
        }
        guard let ostart = destination.baseAddress else {
            // No output buffer at all: decode into a zero-capacity window of a stack byte, which
            // accepts only the empty block.
            return try withUnsafeTemporaryAllocation(byteCount: 1, alignment: 1) { (scratch) throws(CodecError) -> Int in
                try decode(istart, istart + source.count, scratch.baseAddress!, capacity: 0)
            }
        }
        return try decode(istart, istart + source.count, ostart, capacity: destination.count)
    }

    /// Copies a match of `length` bytes at `offset` (1...) behind `op`, overlaps included.
    ///
    /// Writes may run up to 15 bytes past `op + length`: the caller guarantees that room.
    @inline(__always)
    static func copyMatch(_ op: UnsafeMutableRawPointer, offset: Int, length: Int) {
        let end = op + length
        var d = op
        var s = UnsafeRawPointer(op - offset)
        if offset >= 16 {
            repeat {
                lz4Copy16(d, s)
                d += 16
                s += 16
            } while d < end
            return
        }
        if offset < 8 {
            // Pattern expansion: offsets 1, 2 and 4 divide 8, so one 8-byte word of the repeated
            // pattern fills everything; 3, 5, 6 and 7 write their first 8 bytes one by one and
            // then copy 8-byte chunks from the nearest multiple of the offset that is >= 8 back.
            let pattern: UInt64
            switch offset {
            case 1: pattern = UInt64(s.load(as: UInt8.self)) &* 0x0101_0101_0101_0101
            case 2: pattern = UInt64(s.loadUnaligned(as: UInt16.self)) &* 0x0001_0001_0001_0001
            case 4: pattern = UInt64(s.loadUnaligned(as: UInt32.self)) &* 0x0000_0001_0000_0001
            default:
                for k in 0..<8 {
                    (d + k).storeBytes(of: (s + k).load(as: UInt8.self), as: UInt8.self)
                }
                d += 8
                if d >= end { return }
                // 3 -> 9, 5 -> 10, 6 -> 12, 7 -> 14.
                let distance = offset * ((8 + offset - 1) / offset)
                s = UnsafeRawPointer(d - distance)
                repeat {
                    lz4Copy8(d, s)
                    d += 8
                    s += 8
                } while d < end
                return
            }
            repeat {
                d.storeBytes(of: pattern, as: UInt64.self)
                d += 8
            } while d < end
            return
        }
        repeat {
            lz4Copy8(d, s)
            d += 8
            s += 8
        } while d < end
    }

    /// Writes 24 bytes of the periodic sequence a match with `offset` < 8 starts at `op` (a
    /// short match is at most 18 bytes): the first 8 from the pattern built in a register (the
    /// 8 bytes loaded at `op - offset` are masked to `offset` bytes and doubled three times),
    /// then two 8-byte copies from `d` back, `d` the smallest multiple of `offset` >= 8.
    ///
    /// The caller guarantees 8 readable bytes at `op - offset` and 24 writable at `op`.
    @inline(__always)
    static func shortOverlappingMatch(_ op: UnsafeMutableRawPointer, offset: Int) {
        let bits = UInt64(truncatingIfNeeded: offset &* 8)
        let v = UInt64(littleEndian: (op - offset).loadUnaligned(as: UInt64.self))
        var pattern = v & ((1 &<< bits) &- 1)
        pattern |= pattern << bits  // 2 periods
        pattern |= pattern << (2 &* bits)  // 4 periods (a shift of 64 or more gives 0)
        pattern |= pattern << (4 &* bits)  // 8 periods >= 8 bytes
        op.storeBytes(of: pattern.littleEndian, as: UInt64.self)
        // d by offset, one nibble each: 1, 2, 4 -> 8; 3 -> 9; 5 -> 10; 6 -> 12; 7 -> 14.
        let d = Int(truncatingIfNeeded: (0xECA8_9880 as UInt64) &>> (bits &>> 1)) & 0xF
        lz4Copy8(op + 8, op + (8 - d))
        lz4Copy8(op + 16, op + (16 - d))
    }

    private static func decode(
        _ istart: UnsafeRawPointer, _ iend: UnsafeRawPointer, _ ostart: UnsafeMutableRawPointer, capacity: Int
    ) throws(CodecError) -> Int {
        let oend = ostart + capacity
        var ip = istart
        var op = ostart

        // Fast loop. Entry: >= 64 output bytes and >= 18 input bytes left, so the token, a short
        // literal run's 16-byte window and the offset after it are all inside the input. The
        // limits are compared as addresses (one compare each); a buffer too small for the fast
        // loop gets a limit below its start, which no cursor reaches.
        let fastOutputLimit = Int(bitPattern: oend) &- LZ4Format.fastLoopOutputMargin
        let fastInputLimit = Int(bitPattern: iend) &- LZ4Format.fastLoopInputMargin
        fast: while Int(bitPattern: op) <= fastOutputLimit && Int(bitPattern: ip) <= fastInputLimit {
            let sequenceIp = ip
            let sequenceOp = op
            let token = Int(ip.load(as: UInt8.self))
            ip += 1
            var literals = token >> 4
            if literals != LZ4Format.runMask {
                lz4Copy16(op, ip)
                op += literals
                ip += literals
            } else {
                var b: Int
                repeat {
                    if ip >= iend { ip = sequenceIp; break fast }
                    b = Int(ip.load(as: UInt8.self))
                    ip += 1
                    literals &+= b
                } while b == 255
                // The wild copy reads and writes up to 15 bytes past the run: stay 32 away.
                if literals > (oend - op) &- LZ4Format.wildCopyMargin
                    || literals > (iend - ip) &- LZ4Format.wildCopyMargin
                {
                    ip = sequenceIp
                    break fast
                }
                let copyEnd = op + literals
                var s = ip
                repeat {
                    lz4Copy16(op, s)
                    op += 16
                    s += 16
                } while op < copyEnd
                op = copyEnd
                ip += literals
            }
            // Both branches leave >= 2 input bytes: the offset is readable.
            let offset = lz4Load16(ip)
            ip += 2
            // 1 <= offset <= bytes decoded so far, in one unsigned compare.
            guard UInt(bitPattern: offset &- 1) < UInt(bitPattern: op - ostart) else {
                throw .invalidOffset(offset: ip - 2 - istart, distance: offset)
            }
            var length = token & LZ4Format.runMask
            if length != LZ4Format.runMask {
                // Short match (<= 18 bytes); >= 32 output bytes are left here.
                length &+= LZ4Format.minMatch
                if offset >= 16 {
                    let s = UnsafeRawPointer(op - offset)
                    lz4Copy16(op, s)
                    lz4Copy8(op + 16, s + 16)
                } else if offset >= 8 {
                    let s = UnsafeRawPointer(op - offset)
                    lz4Copy8(op, s)
                    lz4Copy8(op + 8, s + 8)
                    lz4Copy8(op + 16, s + 16)
                } else {
                    shortOverlappingMatch(op, offset: offset)
                }
                op += length
            } else {
                var b: Int
                repeat {
                    if ip >= iend { ip = sequenceIp; op = sequenceOp; break fast }
                    b = Int(ip.load(as: UInt8.self))
                    ip += 1
                    length &+= b
                } while b == 255
                length &+= LZ4Format.minMatch
                if length > (oend - op) &- LZ4Format.wildCopyMargin {
                    ip = sequenceIp
                    op = sequenceOp
                    break fast
                }
                copyMatch(op, offset: offset, length: length)
                op += length
            }
        }

        // Careful loop: every length checked against both ends before anything is copied.
        while true {
            guard ip < iend else {
                throw .malformedBlock(
                    offset: ip - istart, reason: "the block ends with a match; its last sequence must be literals only")
            }
            let token = Int(ip.load(as: UInt8.self))
            ip += 1
            var literals = token >> 4
            if literals == LZ4Format.runMask {
                var b: Int
                repeat {
                    guard ip < iend else { throw .truncatedInput(offset: iend - istart) }
                    b = Int(ip.load(as: UInt8.self))
                    ip += 1
                    literals += b
                } while b == 255
            }
            guard literals <= iend - ip else { throw .truncatedInput(offset: iend - istart) }
            guard literals <= oend - op else { throw .outputOverflow(capacity: capacity) }
            op.copyMemory(from: ip, byteCount: literals)
            op += literals
            ip += literals
            if ip == iend { return op - ostart }

            guard iend - ip >= 2 else { throw .truncatedInput(offset: iend - istart) }
            let offset = lz4Load16(ip)
            ip += 2
            guard offset != 0 && offset <= op - ostart else {
                throw .invalidOffset(offset: ip - 2 - istart, distance: offset)
            }
            var length = token & LZ4Format.runMask
            if length == LZ4Format.runMask {
                var b: Int
                repeat {
                    guard ip < iend else { throw .truncatedInput(offset: iend - istart) }
                    b = Int(ip.load(as: UInt8.self))
                    ip += 1
                    length += b
                } while b == 255
            }
            length += LZ4Format.minMatch
            guard length <= oend - op else { throw .outputOverflow(capacity: capacity) }
            // Wild-copy what ends >= 16 bytes before the output's end, then byte by byte.
            let end = op + length
            let wild = min(length, (oend - op) - 16)
            if wild > 0 {
                copyMatch(op, offset: offset, length: wild)
                op += wild
            }
            var s = UnsafeRawPointer(op - offset)
            while op < end {
                op.storeBytes(of: s.load(as: UInt8.self), as: UInt8.self)
                op += 1
                s += 1
            }
        }
    }
}
