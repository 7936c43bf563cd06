/// The safe LZ4 block decoder: decodes every valid block and throws a ``CodecError`` for any
/// other input, never reading outside the source nor writing outside the destination.
///
/// Two loops, as liblz4's `LZ4_decompress_safe`: a fast loop that runs while the output has at
/// least `LZ4Format.fastLoopOutputMargin` bytes left and the input enough for a short sequence,
/// using blind 16-byte literal copies and 8-byte match copies; and a careful loop that checks
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
    /// Writes may run up to 15 bytes past `op + length`, or 31 when `wide`: the caller
    /// guarantees that room.
    @inline(__always)
    static func copyMatch(_ op: UnsafeMutableRawPointer, offset: Int, length: Int, wide: Bool) {
        let end = op + length
        var d = op
        var s = UnsafeRawPointer(op - offset)
        if wide && offset >= 32 {
            lz4WildCopy32(d, s, until: end)
            return
        }
        if offset >= 16 {
            repeat {
                lz4Copy16(d, s)
                d += 16
                s += 16
            } while d < end
            return
        }
        if offset < 8 {
            // Pattern expansion from a register (see `periodicWord`): for offsets 1, 2 and 4,
            // which divide 8, the word repeats, stored 16 bytes at a time; for 3, 5, 6 and 7
            // each next word is the last one shifted by the period's phase. No load reads bytes
            // this match just stored.
            let bits = UInt64(truncatingIfNeeded: offset &* 8)
            if periodBack(bits) == 8 {
                let word = repeatedWord(op, offset: offset)
                let wide = SIMD2<UInt64>(word.littleEndian, word.littleEndian)
                repeat {
                    d.storeBytes(of: wide, as: SIMD2<UInt64>.self)
                    d += 16
                } while d < end
                return
            }
            let phase = phaseBits(bits)
            var word = periodicWord(op, bits: bits)
            repeat {
                d.storeBytes(of: word.littleEndian, as: UInt64.self)
                word = nextPeriodicWord(word, bits: bits, phase: phase)
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

    /// Copies a match whose offset (8...63, and not a multiple of 16) may be much shorter than
    /// its length, so that no load straddles two stores still in flight (such a load waits for
    /// them: pages that repeat 9...15 or 20...40 bytes decoded 3-7x slower than liblz4's):
    /// 8-byte chunks from `offset` back until lcm(offset, 16) - offset bytes are written, then
    /// 16-byte chunks from lcm(offset, 16) back, each load the bytes of one earlier store. Used
    /// by the careful loop, where such a page's one long match ends (in the fast loop the
    /// extra set-up cost 1-3% on ordinary pages).
    ///
    /// Writes may run up to 15 bytes past `op + length`: the caller guarantees that room.
    @inline(never)
    static func copyPeriodically(_ op: UnsafeMutableRawPointer, offset: Int, length: Int) {
        let end = op + length
        var d = op
        var s = UnsafeRawPointer(op - offset)
        let aligned = offset &<< (4 &- min(offset.trailingZeroBitCount, 4))
        let switchAt = op + (aligned &- offset)
        repeat {
            lz4Copy8(d, s)
            d += 8
            s += 8
        } while d < end && d < switchAt
        s = UnsafeRawPointer(d - aligned)
        while d < end {
            lz4Copy16(d, s)
            d += 16
            s += 16
        }
    }

    /// The first 8 bytes a match with offset `bits / 8` (1...7) writes at `op`: the `offset`
    /// bytes before `op` repeated (the 8 bytes loaded at `op - offset` are masked to `offset`
    /// bytes and doubled three times). The caller guarantees 8 readable bytes at `op - offset`.
    @inline(__always)
    static func periodicWord(_ op: UnsafeMutableRawPointer, bits: UInt64) -> UInt64 {
        let v = UInt64(littleEndian: (op - Int(truncatingIfNeeded: bits &>> 3)).loadUnaligned(as: UInt64.self))
        var pattern = v & ((1 &<< bits) &- 1)
        pattern |= pattern << bits  // 2 periods
        pattern |= pattern << (2 &* bits)  // 4 periods (a shift of 64 or more gives 0)
        pattern |= pattern << (4 &* bits)  // 8 periods >= 8 bytes
        return pattern
    }

    /// The 8 bytes a match with offset 1, 2 or 4 writes again and again: the `offset` bytes
    /// before `op` repeated, loaded at their own width. (An 8-byte load there straddles the
    /// stores of the sequence before and waits for them to retire: offset 2 after a match is
    /// 10% of all sequences in a Perl heap, which decoded 0.91x liblz4's speed that way.)
    /// The caller guarantees `offset` readable bytes before `op`.
    @inline(__always)
    static func repeatedWord(_ op: UnsafeMutableRawPointer, offset: Int) -> UInt64 {
        switch offset {
        case 1: return UInt64(op.load(fromByteOffset: -1, as: UInt8.self)) &* 0x0101_0101_0101_0101
        case 2: return UInt64(UInt16(littleEndian: (op - 2).loadUnaligned(as: UInt16.self))) &* 0x0001_0001_0001_0001
        default: return UInt64(UInt32(littleEndian: (op - 4).loadUnaligned(as: UInt32.self))) &* 0x0000_0001_0000_0001
        }
    }

    /// The smallest multiple of the offset (`bits / 8`, 1...7) that is >= 8, one nibble each:
    /// 1, 2, 4 -> 8; 3 -> 9; 5 -> 10; 6 -> 12; 7 -> 14.
    @inline(__always)
    static func periodBack(_ bits: UInt64) -> Int {
        Int(truncatingIfNeeded: (0xECA8_9880 as UInt64) &>> (bits &>> 1)) & 0xF
    }

    /// (8 mod offset) * 8 for an offset of `bits / 8` (1...7): how far the period has moved
    /// after 8 bytes, in bits; one nibble each: 1, 2, 4 -> 0; 3 -> 2; 5 -> 3; 6 -> 2; 7 -> 1.
    @inline(__always)
    static func phaseBits(_ bits: UInt64) -> UInt64 {
        ((0x1230_2000 as UInt64) &>> (bits &>> 1)) & 0xF &* 8
    }

    /// The 8 bytes after `word` in a sequence of period `bits / 8` (1...7), `phase` being
    /// `phaseBits(bits)`: from registers only.
    @inline(__always)
    static func nextPeriodicWord(_ word: UInt64, bits: UInt64, phase: UInt64) -> UInt64 {
        (word &>> phase) | (((word &>> (64 &- bits)) &<< (63 &- phase)) &<< 1)
    }

    /// Writes the 18 bytes a short match with `offset` < 8 starts at `op` (a short match is at
    /// most 18 bytes), all from registers: one load of the pattern, then each 8 bytes computed
    /// from the last (a load of bytes this match just stored would straddle two stores and
    /// wait for them).
    ///
    /// The caller guarantees 8 readable bytes at `op - offset` and 18 writable at `op`.
    @inline(__always)
    static func shortOverlappingMatch(_ op: UnsafeMutableRawPointer, offset: Int) {
        let bits = UInt64(truncatingIfNeeded: offset &* 8)
        let first: UInt64, second: UInt64, third: UInt64
        if periodBack(bits) == 8 {
            first = repeatedWord(op, offset: offset)
            second = first
            third = first
        } else {
            let phase = phaseBits(bits)
            first = periodicWord(op, bits: bits)
            second = nextPeriodicWord(first, bits: bits, phase: phase)
            third = nextPeriodicWord(second, bits: bits, phase: phase)
        }
        op.storeBytes(of: first.littleEndian, as: UInt64.self)
        op.storeBytes(of: second.littleEndian, toByteOffset: 8, as: UInt64.self)
        op.storeBytes(of: UInt16(truncatingIfNeeded: third).littleEndian, toByteOffset: 16, as: UInt16.self)
    }

    /// Copies `n` bytes exactly (nothing past either end): small runs in two overlapping
    /// moves instead of a call to memmove.
    @inline(__always)
    static func copyExactly(_ d: UnsafeMutableRawPointer, _ s: UnsafeRawPointer, _ n: Int) {
        if n >= 8 {
            if n <= 16 {
                let a = s.loadUnaligned(as: UInt64.self)
                let b = s.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
                d.storeBytes(of: a, as: UInt64.self)
                d.storeBytes(of: b, toByteOffset: n - 8, as: UInt64.self)
            } else {
                d.copyMemory(from: s, byteCount: n)
            }
        } else if n >= 4 {
            let a = s.loadUnaligned(as: UInt32.self)
            let b = s.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
            d.storeBytes(of: a, as: UInt32.self)
            d.storeBytes(of: b, toByteOffset: n - 4, as: UInt32.self)
        } else if n > 0 {
            let a = s.load(as: UInt8.self)
            let b = s.load(fromByteOffset: n >> 1, as: UInt8.self)
            let c = s.load(fromByteOffset: n - 1, as: UInt8.self)
            d.storeBytes(of: a, as: UInt8.self)
            d.storeBytes(of: b, toByteOffset: n >> 1, as: UInt8.self)
            d.storeBytes(of: c, toByteOffset: n - 1, as: UInt8.self)
        }
    }

    /// The careful loop's reading of a length's extension bytes at `ip` (each byte adds its
    /// value; a byte below 255 ends the length): their sum, with `ip` after them.
    /// - Throws: ``CodecError/truncatedInput(offset:)`` when the input ends inside them.
    @inline(__always)
    static func lengthBytes(
        _ ip: inout UnsafeRawPointer, _ iend: UnsafeRawPointer, _ istart: UnsafeRawPointer
    ) throws(CodecError) -> Int {
        var sum = 0
        var b: Int
        repeat {
            guard ip < iend else { throw .truncatedInput(offset: iend - istart) }
            b = Int(ip.load(as: UInt8.self))
            ip += 1
            sum += b
        } while b == 255
        return sum
    }

    private static func decode(
        _ istart: UnsafeRawPointer, _ iend: UnsafeRawPointer, _ ostart: UnsafeMutableRawPointer, capacity: Int
    ) throws(CodecError) -> Int {
        let oend = ostart + capacity
        var ip = istart
        var op = ostart

        // Fast loop. Entry: >= 32 output bytes and >= 18 input bytes left, so the token, a short
        // literal run's 16-byte window and the offset after it are all inside the input, and a
        // short sequence's blind copies inside the output. The limits are compared as addresses
        // (one compare each); a buffer too small for the fast loop gets a limit below its start,
        // which no cursor reaches. The common path (short literals, short match at offset >= 8)
        // is marked likely so that it is laid out straight, without taken jumps: 4-6% faster.
        let fastOutputLimit = Int(bitPattern: oend) &- LZ4Format.fastLoopOutputMargin
        let fastInputLimit = Int(bitPattern: iend) &- LZ4Format.fastLoopInputMargin
        fast: while Int(bitPattern: op) <= fastOutputLimit && Int(bitPattern: ip) <= fastInputLimit {
            let sequenceIp = ip
            let sequenceOp = op
            let token = Int(ip.load(as: UInt8.self))
            ip += 1
            var literals = token >> 4
            if _fastPath(literals != LZ4Format.runMask) {
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
                // 32 bytes a turn (half the turns of 16: a page that compresses little has many
                // long runs); may write 31 bytes past the run, inside the 32 checked above.
                let copyEnd = op + literals
                lz4WildCopy32(op, ip, until: copyEnd)
                op = copyEnd
                ip += literals
            }
            // Both branches leave >= 2 input bytes: the offset is readable.
            let offset = lz4Load16(ip)
            ip += 2
            // One bound per match, as liblz4: the match starts inside the output. An offset of
            // 0 (which passes) takes the offset < 8 or the long-match path, which reject it, so
            // the common path (offset >= 8) tests nothing more (3-5% faster than a second test).
            let match = UnsafeRawPointer(op - offset)
            guard _fastPath(match >= ostart) else {
                throw .invalidOffset(offset: ip - 2 - istart, distance: offset)
            }
            var length = token & LZ4Format.runMask
            if _fastPath(length != LZ4Format.runMask) {
                // Short match (<= 18 bytes); >= 18 output bytes are left here. Copied as 8 + 8
                // + 2 bytes: no load straddles two earlier stores, which would wait for them
                // (24-byte copies measured 4-5% slower).
                length &+= LZ4Format.minMatch
                if _fastPath(offset >= 8) {
                    lz4Copy8(op, match)
                    lz4Copy8(op + 8, match + 8)
                    (op + 16).storeBytes(of: (match + 16).loadUnaligned(as: UInt16.self), as: UInt16.self)
                } else {
                    if offset == 0 { throw .invalidOffset(offset: ip - 2 - istart, distance: 0) }
                    shortOverlappingMatch(op, offset: offset)
                }
                op += length
            } else {
                let offsetField = ip - 2
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
                if offset == 0 { throw .invalidOffset(offset: offsetField - istart, distance: 0) }
                copyMatch(op, offset: offset, length: length, wide: true)
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
                // Runs of 255 eight at a time: an incompressible page's literal run has 16,
                // parsed once by the fast loop before it hands the run over (0.90x liblz4 on
                // such pages byte by byte here, 1.00x this way).
                while iend - ip >= 8 && ip.loadUnaligned(as: UInt64.self) == UInt64.max {
                    literals &+= 8 &* 255
                    ip += 8
                }
                literals += try lengthBytes(&ip, iend, istart)
            }
            guard literals <= iend - ip else { throw .truncatedInput(offset: iend - istart) }
            guard literals <= oend - op else { throw .outputOverflow(capacity: capacity) }
            copyExactly(op, ip, literals)
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
                length += try lengthBytes(&ip, iend, istart)
            }
            length += LZ4Format.minMatch
            guard length <= oend - op else { throw .outputOverflow(capacity: capacity) }
            // Wild-copy what ends >= 16 bytes before the output's end, then byte by byte.
            let end = op + length
            let wild = min(length, (oend - op) - 16)
            if wild > 0 {
                // A page that repeats a short record often ends in one long match: it arrives
                // here (the fast loop stops 32 bytes short of the end).
                if offset >= 8 && offset < 64 && offset & 15 != 0 {
                    copyPeriodically(op, offset: offset, length: wild)
                } else {
                    copyMatch(op, offset: offset, length: wild, wide: false)
                }
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
