import Foundation
import Testing
import TestSupport

@testable import ProcessPager

/// The pager counts a page that fork left shared once, as a memory cgroup charges it: RssAnon
/// summed over the tree minus Pss_Anon summed.
@Suite struct SharedMemoryTests {
    @Test func aProcessAloneSharesNothingAndAGonePidGivesNoFigure() throws {
        let me = getpid()
        let rss = try #require(ProcessPager.anonymousBytes(of: me))
        let pss = try #require(ProcessPager.proportionalAnonymousBytes(of: me))
        #expect(pss > 0 && pss <= rss + (1 << 20))
        #expect(ProcessPager.sharedAnonymousBytes(of: [me], rssAnon: rss) < 1 << 20)
        // A process whose figure cannot be read: no sharing is assumed (the cap is not raised).
        #expect(ProcessPager.sharedAnonymousBytes(of: [me, Int32.max], rssAnon: 2 * rss) == 0)
    }

    @Test func pagesAForkSharesAreCountedOnce() throws {
        guard let path = BuiltProducts.path(of: "USwapTestHelper") else {
            Issue.record("USwapTestHelper is not built (swift build builds it)")
            return
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["--random", "2048", "--fork"]  // 8 MiB, shared with the child
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        defer {
            try? stdin.fileHandleForWriting.close()
            process.waitUntilExit()
        }
        var text = ""
        while !text.contains("\n") {
            let data = stdout.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        let field = try #require(text.split(separator: " ").first { $0.hasPrefix("child=") }, "helper said: \(text)")
        let child = try #require(Int32(field.dropFirst(6).trimmingCharacters(in: .whitespacesAndNewlines)))
        let parent = process.processIdentifier
        let pids = [parent, child]
        let rss = pids.reduce(0) { $0 + (ProcessPager.anonymousBytes(of: $1) ?? 0) }
        let shared = ProcessPager.sharedAnonymousBytes(of: pids, rssAnon: rss)
        // Both count the 8 MiB in RssAnon; in memory it is there once.
        #expect(shared >= 8 << 20 - (512 << 10), "shared \(shared) of RssAnon \(rss)")
        #expect(shared <= rss / 2 + (1 << 20))
    }
}
