// A helper process for the tests that need another process (`uswap analyze`): it fills
// anonymous memory with known patterns, says where, and waits.
//
// Usage: USwapTestHelper [--zero N] [--same M] [--random K] [--text L] [--untouched U]
//                        [--exit-after-ms T]
//
// Each pattern gets its own private anonymous mapping, kept a distinct VMA by PROT_NONE guard
// pages on both sides (the kernel merges adjacent anonymous mappings otherwise):
//   zero       N pages written with zeros (present, all zero)
//   same       M pages, each one non-zero 8-byte word repeated (a different word per page)
//   random     K pages of pseudo-random bytes (incompressible)
//   text       L pages of one English sentence repeated
//   untouched  U pages never touched (not present)
// Then it prints one line on stdout:
//   ready pagesize=4096 zero=0xADDR:N same=0xADDR:M random=0xADDR:K text=0xADDR:L untouched=0xADDR:U
// and waits until stdin reaches end of file (or, with --exit-after-ms, exits after T ms).
#if os(Linux)
import Glibc
#endif

/// Writes a line to stderr and exits with status 2 (bad arguments or a failed system call).
func fail(_ message: String) -> Never {
    var text = "USwapTestHelper: " + message + "\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(2)
}

var counts: [String: Int] = ["zero": 0, "same": 0, "random": 0, "text": 0, "untouched": 0]
let order = ["zero", "same", "random", "text", "untouched"]
var exitAfterMilliseconds: Int? = nil

var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    guard flag.hasPrefix("--"), let value = arguments.popFirst().flatMap({ Int($0) }), value >= 0 else {
        fail("expected --NAME COUNT pairs, got \(flag)")
    }
    let name = String(flag.dropFirst(2))
    if name == "exit-after-ms" {
        exitAfterMilliseconds = value
    } else if counts[name] != nil {
        counts[name] = value
    } else {
        fail("unknown pattern \(name); known: \(order.joined(separator: ", "))")
    }
}

let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
// One reservation: a guard page, then each pattern followed by a guard page.
let totalPages = 1 + order.reduce(0) { $0 + counts[$1]! + 1 }
guard let reservation = mmap(nil, totalPages * pageSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
    reservation != MAP_FAILED
else { fail("mmap of \(totalPages) pages failed: errno \(errno)") }

var areas: [String: UnsafeMutableRawPointer] = [:]
var cursor = reservation + pageSize
for name in order {
    let pages = counts[name]!
    areas[name] = cursor
    if pages > 0 {
        guard mprotect(cursor, pages * pageSize, PROT_READ | PROT_WRITE) == 0 else {
            fail("mprotect failed: errno \(errno)")
        }
        // Whole pages only, no transparent huge pages: counts stay exact.
        _ = madvise(cursor, pages * pageSize, MADV_NOHUGEPAGE)
    }
    cursor += (pages + 1) * pageSize
}

// zero: touched (written), so present, and all zero.
if let base = areas["zero"], counts["zero"]! > 0 {
    for page in 0..<counts["zero"]! {
        (base + page * pageSize).initializeMemory(as: UInt8.self, repeating: 0, count: pageSize)
    }
}
// same: page i repeats the word 0x0101...01 * (i % 255 + 1) xor a constant, never zero.
if let base = areas["same"] {
    for page in 0..<counts["same"]! {
        let word = (0x0101_0101_0101_0101 &* UInt64(page % 255 + 1)) ^ 0x00F0_0000_0000_0000
        for offset in stride(from: 0, to: pageSize, by: 8) {
            (base + page * pageSize + offset).storeBytes(of: word == 0 ? 1 : word, as: UInt64.self)
        }
    }
}
// random: SplitMix64, fixed seed.
if let base = areas["random"] {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    for offset in stride(from: 0, to: counts["random"]! * pageSize, by: 8) {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        (base + offset).storeBytes(of: z ^ (z >> 31), as: UInt64.self)
    }
}
// text: one sentence repeated across the pages.
if let base = areas["text"] {
    let sentence = Array("The quick brown fox jumps over the lazy dog while the zram pool counts its pages. ".utf8)
    for offset in 0..<(counts["text"]! * pageSize) {
        (base + offset).storeBytes(of: sentence[offset % sentence.count], as: UInt8.self)
    }
}

var line = "ready pagesize=\(pageSize)"
for name in order {
    line += " \(name)=0x\(String(UInt(bitPattern: areas[name]!), radix: 16)):\(counts[name]!)"
}
line += "\n"
line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }

if let milliseconds = exitAfterMilliseconds {
    usleep(UInt32(min(milliseconds, 4_000_000) * 1000))
    exit(0)
}
// Wait for stdin to close.
var byte: UInt8 = 0
while true {
    let n = read(0, &byte, 1)
    if n == 0 || (n < 0 && errno != EINTR) { break }
}
exit(0)
