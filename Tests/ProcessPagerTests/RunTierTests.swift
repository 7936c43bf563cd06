import ArgumentParser
import Foundation
import ProcessPager
import TestSupport
import Testing

@testable import USwapCLI

/// `uswap run --tier FILE|redis://...`: the second tier named as `bench swap` names it, with
/// `--backend zswap` (the cache writes back to it) or `--backend zram` (writeback to it).
@Suite(.serialized) struct RunTierTests {
    /// Runs churn (16 MiB heap, 4 MiB resident, a 1 MiB pool) with `extra` and checks that it
    /// paged cleanly and that the second tier took pages and gave them back.
    static func runOverTier(_ uswap: String, _ extra: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws
        -> RunReport.TierFigures?
    {
        let run = try await ManagedRun.start(uswap, program: "churn", ["16"], resident: "4M", extra: extra + ["--pool-limit", "1M"])
        run.expectPagedCleanly(line: "churn ok", minimumSwapOuts: RunTests.pages(8), sourceLocation: sourceLocation)
        let tier = run.report?.tier
        #expect(tier != nil, "the report names the second tier", sourceLocation: sourceLocation)
        guard let tier else { return nil }
        #expect(tier.writtenBack > 0, "pages must reach the tier: \(tier)", sourceLocation: sourceLocation)
        #expect(tier.acknowledgedWrites >= tier.writtenBack, "\(tier)", sourceLocation: sourceLocation)
        #expect(tier.tierReads > 0, "pages must come back from the tier: \(tier)", sourceLocation: sourceLocation)
        #expect(tier.failedReads == 0 && tier.closeProblems.isEmpty, "\(tier)", sourceLocation: sourceLocation)
        return tier
    }

    @Test(arguments: [false, true])
    func aZswapCacheWritesBackToATierFileThatIsGoneAfterwards(encrypt: Bool) async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let file = NSTemporaryDirectory() + "uswap-run-tier-\(UUID().uuidString)"
        let tier = try await Self.runOverTier(uswap, ["--backend", "zswap", "--tier", file] + (encrypt ? ["--encrypt-tier"] : []))
        #expect(tier?.name.hasPrefix("file \(file)") == true, "\(String(describing: tier))")
        #expect(tier?.name.contains("encrypted") == encrypt)
        #expect(!FileManager.default.fileExists(atPath: file))
    }

    @Test func zramWritesBackToATierFileThatIsGoneAfterwards() async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let file = NSTemporaryDirectory() + "uswap-run-tier-\(UUID().uuidString)"
        let tier = try await Self.runOverTier(uswap, ["--backend", "zram", "--tier", file])
        #expect(tier?.name == "file \(file)")
        #expect(!FileManager.default.fileExists(atPath: file))
    }

    @Test(.timeLimit(.minutes(3)))
    func aZswapCacheWritesBackToAClusterAndLeavesNoKey() async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        // withCluster checks that a SCAN for uswap:* finds nothing on any node afterwards.
        try await withCluster(masters: 3, replicas: 1) { cluster in
            let tier = try await Self.runOverTier(uswap, ["--backend", "zswap", "--tier", cluster.url])
            #expect(tier?.name.hasPrefix("cluster \(cluster.url) (WAIT 1, keys uswap:run-") == true, "\(String(describing: tier))")
            #expect(tier?.refusedWrites == 0)
            // The masters saw the pages arrive: one SET per page, beside the lease's few.
            var sets = 0
            for master in try await cluster.masters() {
                let stats = try await cluster.cli(master.port, ["INFO", "commandstats"])
                if let line = stats.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cmdstat_set:") }),
                    let calls = line.split(separator: ",").first?.split(separator: "=").last, let count = Int(calls)
                {
                    sets += count
                }
            }
            #expect(sets >= tier?.acknowledgedWrites ?? .max, "SET calls \(sets)")
        }
    }

    @Test(arguments: [
        (["--backend", "zswap:/tmp/a", "--tier", "/tmp/b"], "give the file once"),
        (["--backend", "zswap"], "--backend zswap needs its second tier"),
        (["--tier", "/tmp/b", "--writeback", "/tmp/a"], "give zram's writeback target once"),
        (["--encrypt-tier"], "--encrypt-tier needs a second tier"),
        (["--tier", "http://host:1"], "only redis:// clusters and file paths"),
        (["--backend", "zswap", "--tier", "/tmp/b", "--replicas", "2"], "--replicas applies to a cluster tier"),
        (["--backend", "zram:/tmp/a", "--tier", "/tmp/b"], "--backend must be zram, zswap (with --tier) or zswap:FILE"),
    ])
    func badTierArgumentsAreRefusedWithAReason(arguments: [String], message: String) {
        do {
            _ = try Run.parse(arguments + ["--", "true"])
            Issue.record("accepted: \(arguments)")
        } catch {
            let text = Run.message(for: error)
            #expect(text.contains(message), "\(arguments): \(text)")
        }
    }

    @Test func aBadTierEndsUswapBeforeTheProgramStarts() async throws {
        guard let uswap = BuiltProducts.path(of: "uswap") else {
            CIGate.unavailable("the uswap executable (swift build)")
            return
        }
        let marker = NSTemporaryDirectory() + "uswap-run-tier-ran-\(UUID().uuidString)"
        let run = try await HelperProcess.run(
            path: uswap, ["run", "--backend", "zswap:/tmp/a", "--tier", "/tmp/b", "--", "/usr/bin/touch", marker])
        #expect(run.exitCode == 64, "\(String(describing: run.exitCode)): \(run.output)")
        #expect(run.output.contains("give the file once"), "\(run.output)")
        #expect(!FileManager.default.fileExists(atPath: marker))
    }
}

extension RunTierTests {
    @Test(arguments: ["file", "cluster"])
    func aTierThatCannotBeOpenedEndsUswapBeforeTheProgramStarts(kind: String) async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let file = NSTemporaryDirectory() + "uswap-run-tier-full-\(UUID().uuidString)"
        try Data("not a swap file".utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        // Port 1 on loopback: nothing listens there.
        let tier = kind == "file" ? file : "redis://127.0.0.1:1"
        let marker = NSTemporaryDirectory() + "uswap-run-tier-ran-\(UUID().uuidString)"
        let run = try await HelperProcess.run(
            path: uswap, ["run", "--quiet", "--backend", "zswap", "--tier", tier, "--", "/usr/bin/touch", marker])
        #expect(run.exitCode == 125, "\(String(describing: run.exitCode)): \(run.output)")
        #expect(run.output.contains("cannot open the second tier \(tier)"), "\(run.output)")
        #expect(!FileManager.default.fileExists(atPath: marker), "the program must not run")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "not a swap file", "a file holding data is left alone")
    }
}

extension RunTierTests {
    @Test func forceReplacesATierFileThatHoldsData() async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let file = NSTemporaryDirectory() + "uswap-run-tier-force-\(UUID().uuidString)"
        try Data("old data".utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let run = try await HelperProcess.run(path: uswap, ["run", "--quiet", "--backend", "zram", "--tier", file, "--force", "--", "/bin/true"])
        #expect(run.exitCode == 0, "\(run.output)")
        #expect(!FileManager.default.fileExists(atPath: file), "replaced, then unlinked at once")
    }
}
