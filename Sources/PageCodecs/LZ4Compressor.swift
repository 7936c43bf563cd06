/// The LZ4 block compressor's scratch state and its match finder (liblz4's fast, greedy
/// single-probe search for inputs below 64 KiB), producing the same blocks as liblz4 1.9.4's
/// `LZ4_compress_fast` byte for byte.
///
/// Memory: owns one hash table of `1 << LZ4Format.hashLog` 16-bit slots, allocated in `init`,
/// freed in `deinit`, never reallocated. One stream, one thread at a time (like ``PageCodec``).
///
/// Invariant: between calls every slot holds 0 or a position of the last input compressed
/// (below its size). A call clears the whole table first, as liblz4 does, so an empty slot names
/// position 0 exactly as in liblz4's table and the blocks are liblz4's. (Clearing 16 KiB costs
/// less than telling a previous input's slots apart on every probe, which an earlier epoch
/// scheme did: 0.96x against 1.01x of liblz4's speed on the same pages.)
final class LZ4Compressor {
    /// liblz4's acceleration, clamped to 1...65537 as liblz4 does.
    let acceleration: Int
    private let table: UnsafeMutablePointer<UInt16>
    /// The size of the last input compressed with the table (the bound of the invariant).
    private var lastInputSize = 0
    private static let tableSlots = 1 << LZ4Format.hashLog

    /// Allocates and zeroes the hash table (the only allocation this stream makes).
    init(acceleration: Int) {
        self.acceleration = acceleration < 1 ? 1 : min(acceleration, LZ4Format.maxAcceleration)
        table = .allocate(capacity: Self.tableSlots)
        table.initialize(repeating: 0, count: Self.tableSlots)
    }

    deinit { table.deallocate() }

    /// liblz4's `LZ4_compressBound`: `n + n / 255 + 16`.
    static func bound(_ n: Int) -> Int { n + n / 255 + 16 }

    /// Debug builds: checks that every slot is 0 or a position of the last input (tests call this).
    func checkInvariants() {
        #if DEBUG
        let limit = max(lastInputSize, 1)
        for i in 0..<Self.tableSlots {
            precondition(Int(table[i]) < limit, "LZ4 hash slot \(i) = \(table[i]) is not a position of the last input (\(lastInputSize) bytes)")
        }
        #endif
    }

    /// Compresses `source` into `destination`; `nil` when the block would not fit.
    func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        let n = source.count
        let capacity = destination.count
        guard let dst = destination.baseAddress, capacity > 0 else { return nil }
        guard let src = source.baseAddress, n > 0 else {
            dst.storeBytes(of: 0, as: UInt8.self)  // the empty block: one token, no literals
            return 1
        }
        if n < LZ4Format.minInputForMatch || n > LZ4Format.maxTableInput {
            // Too short to hold a match, or not a page: one literal run (a valid block).
            return Self.writeLastLiterals(src, n, dst, dst + capacity, limited: true).map { $0 - dst }
        }
        // Two copies of the loop, as liblz4 does: with room for the worst case no output checks.
        if capacity >= Self.bound(n) {
            return compressUnlimited(src, n, dst, capacity)
        }
        return compressLimited(src, n, dst, capacity)
    }

    // Separate functions so that each copy of the loop gets its own register allocation.
    @inline(never)
    private func compressUnlimited(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutableRawPointer, _ capacity: Int) -> Int? {
        compressBlock(src, n, dst, capacity, limited: false)
    }

    @inline(never)
    private func compressLimited(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutableRawPointer, _ capacity: Int) -> Int? {
        compressBlock(src, n, dst, capacity, limited: true)
    }

    @inline(__always)
    private static func hash(_ p: UnsafeRawPointer) -> Int {
        Int((lz4Load32(p) &* LZ4Format.hashMultiplier) >> UInt32(32 - LZ4Format.hashLog))
    }

    /// Counts equal bytes at `a` and `b` (`b` < `a`) up to `limit`, 8 at a time.
    @inline(__always)
    private static func matchLength(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ limit: UnsafeRawPointer) -> Int {
        var p = a
        var m = b
        // The first 8 bytes on their own, as liblz4's LZ4_count: most matches end there, and
        // this branch gets its own prediction history apart from the loop's.
        if p < limit - 7 {
            let diff = lz4Load64(m) ^ lz4Load64(p)
            if diff != 0 { return diff.trailingZeroBitCount &>> 3 }
            p += 8
            m += 8
        }
        while p < limit - 7 {
            let diff = lz4Load64(m) ^ lz4Load64(p)
            if diff != 0 { return (p - a) &+ diff.trailingZeroBitCount &>> 3 }
            p += 8
            m += 8
        }
        if p < limit - 3 && lz4Load32(m) == lz4Load32(p) { p += 4; m += 4 }
        if p < limit - 1 && m.loadUnaligned(as: UInt16.self) == p.loadUnaligned(as: UInt16.self) { p += 2; m += 2 }
        if p < limit && m.load(as: UInt8.self) == p.load(as: UInt8.self) { p += 1 }
        return p - a
    }

    /// Writes the final literal run of `count` bytes at `op`; the new end, or `nil` if it does not
    /// fit before `limit` (only checked when `limited`).
    @inline(__always)
    private static func writeLastLiterals(
        _ from: UnsafeRawPointer, _ count: Int, _ op: UnsafeMutableRawPointer, _ limit: UnsafeMutableRawPointer,
        limited: Bool
    ) -> UnsafeMutableRawPointer? {
        if limited && limit - op < count + 1 + (count + 255 - LZ4Format.runMask) / 255 { return nil }
        var op = op
        if count >= LZ4Format.runMask {
            op.storeBytes(of: UInt8(LZ4Format.runMask << 4), as: UInt8.self)
            op = lz4WriteLengthExtension(op + 1, count - LZ4Format.runMask)
        } else {
            op.storeBytes(of: UInt8(count << 4), as: UInt8.self)
            op += 1
        }
        op.copyMemory(from: from, byteCount: count)
        return op + count
    }

    /// The match finder and sequence writer for 13...65536 bytes.
    ///
    /// With `limited == false` the destination holds at least `bound(n)` bytes and nothing is
    /// checked; otherwise each sequence is checked (with room for the 8-byte literal wild copy)
    /// before it is written.
    @inline(__always)
    private func compressBlock(
        _ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutableRawPointer, _ capacity: Int, limited: Bool
    ) -> Int? {
        let table = self.table
        table.update(repeating: 0, count: Self.tableSlots)
        lastInputSize = n
        let accel = acceleration

        let iend = src + n
        let mflimitPlusOne = iend - (LZ4Format.matchFindLimit - 1)  // last match start + 1
        let matchLimit = iend - LZ4Format.lastLiterals  // matches end before the last literals
        let olimit = dst + capacity
        var ip = src
        var anchor = src
        var op = dst

        // The first position goes into the table unconditionally.
        table[Self.hash(ip)] = UInt16(truncatingIfNeeded: ip - src)
        ip += 1
        var forwardH = Self.hash(ip)

        outer: while true {
            // Find a match: probe one slot per position, the step growing every 64 misses.
            var match = src
            var forwardIp = ip
            var step = 1
            var searchMatchNb = accel << LZ4Format.skipTrigger
            while true {
                let h = forwardH
                ip = forwardIp
                forwardIp += step
                step = searchMatchNb &>> LZ4Format.skipTrigger
                searchMatchNb &+= 1
                if forwardIp > mflimitPlusOne { break outer }
                let slot = Int(table[h])
                forwardH = Self.hash(forwardIp)
                table[h] = UInt16(truncatingIfNeeded: ip - src)
                if lz4Load32(src + slot) == lz4Load32(ip) {
                    match = src + slot
                    break
                }
            }

            // Catch up: extend the match backwards over equal bytes not yet emitted. Most
            // matches do not extend: one byte test decides, then the loop runs with one bound.
            if ip > anchor && match > src
                && ip.load(fromByteOffset: -1, as: UInt8.self) == match.load(fromByteOffset: -1, as: UInt8.self)
            {
                let maxBack = min(ip - anchor, match - src)
                var back = 1
                while back < maxBack
                    && ip.load(fromByteOffset: ~back, as: UInt8.self) == match.load(fromByteOffset: ~back, as: UInt8.self)
                {
                    back &+= 1
                }
                ip -= back
                match -= back
            }

            // Literals (the token's match nibble is filled in below).
            let litLength = ip - anchor
            var token = op
            op += 1
            if limited && olimit - op < litLength + (2 + 1 + LZ4Format.lastLiterals) + litLength / 255 {
                return nil
            }
            var tokenLiterals: UInt8
            if litLength >= LZ4Format.runMask {
                tokenLiterals = UInt8(LZ4Format.runMask << 4)
                op = lz4WriteLengthExtension(op, litLength - LZ4Format.runMask)
            } else {
                tokenLiterals = UInt8(truncatingIfNeeded: litLength << 4)
            }
            // Wild copy in 8-byte steps, the first unconditionally (most runs are 0...8 bytes):
            // reads end before ip + 8 <= the input's end (ip <= iend - 12); writes end at most
            // 7 bytes past the literals, where at least 8 more output bytes follow.
            lz4Copy8(op, anchor)
            if litLength > 8 {
                var d = op + 8
                var s = anchor + 8
                let e = op + litLength
                repeat {
                    lz4Copy8(d, s)
                    d += 8
                    s += 8
                } while d < e
            }
            op += litLength

            // Matches: this sequence's, then any that starts right where it ends.
            while true {
                op.storeBytes(of: UInt16(truncatingIfNeeded: ip - match).littleEndian, as: UInt16.self)
                op += 2
                let matchCode = Self.matchLength(ip + LZ4Format.minMatch, match + LZ4Format.minMatch, matchLimit)
                ip += matchCode &+ LZ4Format.minMatch
                if limited && olimit - op < 1 + LZ4Format.lastLiterals + (matchCode + 240) / 255 {
                    return nil
                }
                if matchCode >= LZ4Format.runMask {
                    token.storeBytes(of: tokenLiterals | UInt8(LZ4Format.runMask), as: UInt8.self)
                    op = lz4WriteLengthExtension(op, matchCode - LZ4Format.runMask)
                } else {
                    token.storeBytes(of: tokenLiterals | UInt8(truncatingIfNeeded: matchCode), as: UInt8.self)
                }
                anchor = ip

                if ip >= mflimitPlusOne { break outer }
                // Insert ip - 2 (cheap extra history), then test ip itself for a match.
                table[Self.hash(ip - 2)] = UInt16(truncatingIfNeeded: (ip - 2) - src)
                let h = Self.hash(ip)
                let slot = Int(table[h])
                table[h] = UInt16(truncatingIfNeeded: ip - src)
                guard lz4Load32(src + slot) == lz4Load32(ip) else { break }
                match = src + slot
                token = op
                tokenLiterals = 0
                op += 1
            }
            ip += 1
            forwardH = Self.hash(ip)
        }

        guard let end = Self.writeLastLiterals(anchor, iend - anchor, op, olimit, limited: limited) else { return nil }
        return end - dst
    }
}
