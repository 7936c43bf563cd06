// A helper process for the tests that need another process (`uswap analyze`, the kernel's
// zswap with a stand-in child): it fills anonymous memory with known patterns, says where, and
// waits.
//
// Usage: USwapTestHelper [--zero N] [--same M] [--random K] [--text L] [--untouched U]
//                        [--exit-after-ms T] [--fork]
//
// Each pattern (Workloads' MemoryPattern) gets its own private anonymous mapping, kept a
// distinct VMA by PROT_NONE guard pages on both sides (the kernel merges adjacent anonymous
// mappings otherwise):
//   zero       N pages written with zeros (present, all zero)
//   same       M pages, each one non-zero 8-byte word repeated (a different word per page)
//   random     K pages of pseudo-random bytes (incompressible)
//   text       L pages of one English sentence repeated
//   untouched  U pages never touched (not present)
// Then it prints one line on stdout:
//   ready pagesize=4096 zero=0xADDR:N same=0xADDR:M random=0xADDR:K text=0xADDR:L untouched=0xADDR:U
// and waits until stdin reaches end of file (or, with --exit-after-ms, exits after T ms).
// With --fork it forks once the pages are filled (single-threaded then: nothing else runs in the
// helper) and adds ` child=PID` to the line: the child shares every page copy-on-write, waits
// like the parent, and the parent reaps it before it exits.
import ArgumentParser
import Glibc
import SystemPackage
import SystemSupport
import Workloads

/// The helper's command line.
struct USwapTestHelper: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "USwapTestHelper",
        abstract: "Fills anonymous mappings with known page patterns, prints where, and waits.")

    @Option(help: "Pages written with zeros.")
    var zero = 0
    @Option(help: "Pages of one non-zero word repeated, a different word per page.")
    var same = 0
    @Option(help: "Pages of pseudo-random bytes.")
    var random = 0
    @Option(help: "Pages of one English sentence repeated.")
    var text = 0
    @Option(help: "Pages mapped but never touched.")
    var untouched = 0
    @Option(name: .customLong("exit-after-ms"), help: "Exit after this many milliseconds (at most 4000) instead of waiting for stdin to close.")
    var exitAfterMilliseconds: Int?
    @Flag(help: "Fork a child that shares the filled pages (copy-on-write) and waits too.")
    var fork = false

    /// The page count asked for each pattern, in mapping order.
    var counts: [(MemoryPattern, Int)] {
        [(.zero, zero), (.same, same), (.random, random), (.text, text), (.untouched, untouched)]
    }

    func validate() throws {
        for (pattern, pages) in counts where pages < 0 {
            throw ValidationError("--\(pattern.rawValue) \(pages): a page count is 0 or more")
        }
        if let exitAfterMilliseconds, exitAfterMilliseconds < 0 {
            throw ValidationError("--exit-after-ms \(exitAfterMilliseconds): a time is 0 or more")
        }
    }

    func run() throws {
        let pageSize = AnonymousMapping.pageSize
        // One reservation: a guard page, then each pattern followed by a guard page. Its
        // ownership is released: the mappings live until the process exits.
        let totalPages = 1 + counts.reduce(0) { $0 + $1.1 + 1 }
        guard let reservation = mmap(nil, totalPages * pageSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            reservation != MAP_FAILED
        else { throw ValidationError("mmap of \(totalPages) pages failed: \(SystemCall.lastError)") }
        var line = "ready pagesize=\(pageSize)"
        var cursor = reservation + pageSize
        for (pattern, pages) in counts {
            if pages > 0 {
                guard mprotect(cursor, pages * pageSize, PROT_READ | PROT_WRITE) == 0 else {
                    throw ValidationError("mprotect failed: \(SystemCall.lastError)")
                }
                // Whole pages only, no transparent huge pages: counts stay exact.
                _ = madvise(cursor, pages * pageSize, MADV_NOHUGEPAGE)
                pattern.fill(cursor, pages: pages, pageSize: pageSize)
            }
            line += " \(pattern.rawValue)=0x\(String(UInt(bitPattern: cursor), radix: 16)):\(pages)"
            cursor += (pages + 1) * pageSize
        }
        var child: pid_t = 0
        if fork {
            child = Glibc.fork()
            guard child >= 0 else { throw ValidationError("fork failed: \(SystemCall.lastError)") }
            if child > 0 { line += " child=\(child)" }
        }
        let isChild = fork && child == 0
        if !isChild { try FileDescriptor.standardOutput.writeAll((line + "\n").utf8) }
        if let exitAfterMilliseconds {
            sleepMicroseconds(min(exitAfterMilliseconds, 4000) * 1000)
        } else {
            // Wait for stdin to close (parent and child both read it: each sees the end).
            var byte: UInt8 = 0
            while (try? withUnsafeMutableBytes(of: &byte) { try FileDescriptor.standardInput.read(into: $0) }) == 1 {}
        }
        if isChild { _exit(0) }
        if child > 0 { _ = waitpid(child, nil, 0) }
    }
}

USwapTestHelper.main()
