#if canImport(Glibc)
import Glibc
#endif
import Foundation
import RedisTier
import Testing
import TestSupport

/// `uswap bench swap --tier redis://...` and `uswap cluster gc` end to end: the built `uswap`
/// against real clusters (the CLI's own tests cover its arguments).
extension RealClusterTests {
    @Suite("uswap with a cluster tier: swap regions over real clusters, failures, gc")
    struct ClusterTierCommandTests {
        /// A corpus of `pages` pages that compress about 2:1 (half of each page pseudo-random), so
        /// a small pool sends most pages to the tier; the caller removes it.
        static func corpus(pages: Int = 64) throws -> String {
            let path = "/tmp/uswap-cluster-corpus-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            var bytes = [UInt8]()
            bytes.reserveCapacity(pages * 4096)
            for p in 0..<pages {
                var x = UInt64(p + 1) &* 0x9E37_79B9_7F4A_7C15
                for i in 0..<512 {
                    var word = UInt64(0x7F00_0000_0000) &+ UInt64(p * 512 + i % 37)
                    if i % 2 == 0 { x ^= x << 13; x ^= x >> 7; x ^= x << 17; word = x }
                    withUnsafeBytes(of: word.littleEndian) { bytes += $0 }
                }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return path
        }

        /// The JSON object `uswap bench swap --json` printed on the last line of `output`.
        static func report(_ output: String) -> [String: Any]? {
            guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            else { return nil }
            return object
        }

        @Test("A 256 MiB region, 1/8 resident, 4 threads, over 3 masters + 3 replicas: once the cluster holds a quarter of its pages a master is SIGKILLed; every page verifies", .timeLimit(.minutes(3)))
        func regionSurvivesAMasterKill() async throws {
            try await withCluster(masters: 3, replicas: 1) { cluster in
                let uswap = try #require(BuiltProducts.path(of: "uswap"), "uswap is not built")
                let corpus = try Self.corpus()
                defer { unlink(corpus) }
                let masters = try await cluster.masters()
                let victim = try #require(masters.first)
                // Wait until the cluster holds 16384 pages (of 65536; the pool's limit is 8 MiB, so
                // nearly all swapped-out pages go there), kill a master, then touch and verify
                // all: pages on the dead master come from its promoted replica. (Its shard has no
                // replica left, so WAIT 1 refuses its writes from then on: those pages stay in
                // the pool, over its limit, counted; nothing is lost.)
                let script = """
                    "$1" bench swap --corpus "$2" --size 256 --resident 32 --touches 20000 --write-pct 30 --threads 4 \
                      --backend zswap --tier "$3" --pool-limit 8 --json 2>/tmp/uswap-cluster-test-$$.err &
                    run=$!
                    for i in $(seq 600); do
                      keys=0; for port in $5; do keys=$((keys + $(redis-cli -p $port DBSIZE))); done
                      [ $keys -ge 16384 ] && break; sleep 0.1
                    done
                    echo "keys=$keys"; kill -9 "$4"
                    wait $run; code=$?
                    echo "exit=$code"; [ $code = 0 ] || tail -20 /tmp/uswap-cluster-test-$$.err; rm -f /tmp/uswap-cluster-test-$$.err
                    """
                let ports = masters.map { String($0.port) }.joined(separator: " ")
                let run = try await HelperProcess.run(
                    path: "/bin/bash", ["-c", script, "bash", uswap, corpus, cluster.url, String(victim.pid), ports])
                #expect(run.output.contains("exit=0"), "\(run.output.suffix(3000))")
                let keys = run.fields(of: "keys=")?["keys"].flatMap { Int($0) } ?? 0
                #expect(keys >= 16384, "the cluster held \(keys) keys when the master died")
                let report = try #require(Self.report(run.output), "no JSON report: \(run.output.suffix(3000))")
                #expect(report["verified"] as? Bool == true && report["mismatches"] as? Int == 0)
                #expect((report["file_reads"] as? Int ?? 0) > 0, "pages came back from the cluster")
                let memory = report["memory"] as? [String: Any]
                #expect((memory?["resident_max_bytes"] as? Int ?? .max) <= 32 << 20)
                #expect(try await cluster.waitUntilHealthy())
            }
        }

        @Test("uswap SIGKILLed mid-run, then uswap cluster gc: its keys are gone; a concurrent run's keys and pages are untouched", .timeLimit(.minutes(2)))
        func gcRemovesAKilledRun() async throws {
            try await withCluster(masters: 3, replicas: 1) { cluster in
                let uswap = try #require(BuiltProducts.path(of: "uswap"), "uswap is not built")
                let corpus = try Self.corpus()
                defer { unlink(corpus) }
                let live = try RedisTier(cluster.configuration())
                let liveHandles = try TestPages.write(live, 0..<300)
                #expect(liveHandles.count == 300)
                // A run that would take minutes, in the background; its pid on our stdout.
                let start = try await HelperProcess.run(path: "/bin/bash", ["-c", """
                    "$1" bench swap --corpus "$2" --size 64 --resident 8 --touches 100000000 --backend zswap \
                      --tier "$3" --pool-limit 2 --lease-ttl 1000 >/dev/null 2>&1 &
                    echo "pid=$!"
                    """, "bash", uswap, corpus, cluster.url])
                let pid = try #require(start.fields(of: "pid=")?["pid"].flatMap { Int32($0) }, "\(start.output)")
                // Wait until it has pages in the cluster, then kill it: no close, no sweep.
                var killedKeys = 0
                let deadline = Date().addingTimeInterval(60)
                while killedKeys < 1000 && Date() < deadline {
                    try await Task.sleep(for: .milliseconds(300))
                    killedKeys = 0
                    for master in try await cluster.masters() {
                        killedKeys += try await cluster.keys(on: master.port, matching: "uswap:bench-*:*").count
                    }
                }
                kill(pid, SIGKILL)
                #expect(killedKeys >= 1000, "the run never wrote pages to the cluster")
                try await Task.sleep(for: .milliseconds(1500))  // its 1 s lease expires
                let gc = try await HelperProcess.run(path: uswap, ["cluster", "gc", cluster.url])
                #expect(gc.exitCode == 0, "\(gc.output)")
                #expect(gc.output.contains("dead: bench-"), "\(gc.output)")
                #expect(gc.output.contains("live: \(live.namespace.run)"), "\(gc.output)")
                var left = 0
                for master in try await cluster.masters() {
                    left += try await cluster.keys(on: master.port, matching: "uswap:bench-*").count
                }
                #expect(left == 0, "keys of the killed run remain")
                #expect(TestPages.verify(live, liveHandles).isEmpty, "the live run's pages changed")
                try live.close()
            }
        }

        @Test("The whole cluster down at start: uswap exits with an error that names the cluster")
        func clusterDownAtStart() async throws {
            try await withCluster(masters: 3, replicas: 1) { cluster in
                let uswap = try #require(BuiltProducts.path(of: "uswap"), "uswap is not built")
                let corpus = try Self.corpus()
                defer { unlink(corpus) }
                for node in cluster.nodes { cluster.signal(SIGSTOP, port: node.port) }
                defer { for node in cluster.nodes { cluster.signal(SIGCONT, port: node.port) } }
                let run = try await HelperProcess.run(path: uswap, [
                    "bench", "swap", "--corpus", corpus, "--size", "8", "--resident", "2", "--touches", "100",
                    "--backend", "zswap", "--tier", cluster.url,
                ])
                #expect(run.exitCode != 0)
                #expect(run.output.contains("cluster tier redis://"), "\(run.output.suffix(2000))")
            }
        }
    }
}
