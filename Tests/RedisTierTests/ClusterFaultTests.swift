#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PageStore
import SystemSupport
import Testing
import TestSupport
import TierCrypto

@testable import RedisTier

/// Swap regions over a real cluster whose nodes are stopped mid-run (USwapFaultHelper's
/// cluster scenarios: the helper stops and continues the nodes itself, so it sees from inside
/// what its region does meanwhile, and a SIGBUS kills no test process), and the encrypting tier
/// over a cluster, checked on the nodes themselves.
extension RealClusterTests {
    @Suite("Cluster tier under stopped nodes and partitions, and encrypted")
    struct ClusterFaultTests {
        /// Runs USwapFaultHelper with `arguments`, then continues every node of `cluster` (the
        /// helper may have died with some stopped; a stopped node would hang the checks after).
        static func runHelper(_ arguments: [String], _ cluster: LocalCluster) async throws -> HelperRun {
            let run = try await HelperProcess.run("USwapFaultHelper", arguments)
            for node in cluster.nodes { cluster.signal(SIGCONT, port: node.port) }
            return run
        }

        /// `fields[name]` as an integer (-1 when absent).
        static func int(_ fields: [String: String]?, _ name: String) -> Int { fields?[name].flatMap { Int($0) } ?? -1 }

        @Test("SIGSTOP of one master for 3 s (under the read retry window) while threads touch a region over the cluster: reads retry or go to its replica, every page verifies, nothing is left", .timeLimit(.minutes(2)))
        func masterStoppedDuringARun() async throws {
            try await withCluster(nodeTimeout: 1000) { cluster in
                let victim = try #require(try await cluster.masters().first)
                let run = try await Self.runHelper([
                    "cluster-stop-node", "--cluster", cluster.url, "--stop", String(victim.pid), "--stop-ms", "3000",
                    "--reads", "io-threads:2", "--threads", "2",
                ], cluster)
                let output = "exit \(String(describing: run.exitCode)), signal \(String(describing: run.signal)):\n\(run.output.suffix(3000))"
                #expect(run.exitCode == 0, "\(output)")
                let filled = run.fields(of: "filled:")
                #expect(Self.int(filled, "in_tier") > Self.int(filled, "pages") / 2, "most pages reach the cluster: \(output)")
                let stopped = run.fields(of: "stopped:")
                let after = run.fields(of: "after:")
                let window = Self.int(after, "read_window_ms")
                #expect(window >= 4000, "2 x node timeout + 2 s: \(output)")
                #expect(Self.int(stopped, "ms") >= 3000 && Self.int(stopped, "ms") < window, "\(output)")
                // The stop fell in the run: pages came from the cluster meanwhile, some of them the
                // stopped master's (a retry, or its replica).
                #expect(Self.int(stopped, "tier_reads_during") > 0, "\(output)")
                #expect(Self.int(stopped, "retries_during") + Self.int(stopped, "replica_reads_during") > 0, "\(output)")
                #expect(after?["bad"] == "0", "\(output)")
                #expect(after?["failed_faults"] == "0" && after?["tier_failed_reads"] == "0", "\(output)")
                #expect(run.output.contains("closed: ok"), "\(output)")
                #expect(try await cluster.waitUntilHealthy())
            }
        }

        @Test("Every node SIGSTOPped past the read retries: writeback stops (the pool goes over its limit), a fault on a page only the cluster holds gets SIGBUS with nothing freed; after SIGCONT the access reads the page, writeback resumes, every page verifies", .timeLimit(.minutes(2)))
        func partitionMidRun() async throws {
            try await withCluster(nodeTimeout: 1000) { cluster in
                let pids = cluster.nodes.map { String($0.pid) }.joined(separator: ",")
                let run = try await Self.runHelper(
                    ["cluster-partition", "--cluster", cluster.url, "--stop", pids, "--reads", "io-threads:2"], cluster)
                let output = "exit \(String(describing: run.exitCode)), signal \(String(describing: run.signal)):\n\(run.output.suffix(3000))"
                #expect(run.exitCode == 0, "\(output)")
                #expect(run.fields(of: "filled:")?["location"] == "file", "\(output)")

                // While every node is stopped nothing is acknowledged: pages stay in the pool.
                let partitioned = try #require(run.fields(of: "partitioned:"), "\(output)")
                #expect(partitioned["acknowledged_during"] == partitioned["acknowledged_before"], "\(output)")
                #expect(Self.int(partitioned, "refused_during") > 0 && Self.int(partitioned, "tier_refused") > 0, "\(output)")
                #expect(Self.int(partitioned, "stored_over_limit") > 0, "\(output)")
                #expect(Self.int(partitioned, "pool_bytes") > Self.int(partitioned, "pool_limit"), "\(output)")

                // The fault: SIGBUS once the reads gave up, on the touched page, nothing freed.
                let sigbus = try #require(run.fields(of: "sigbus:"), "no SIGBUS: \(output)")
                #expect(sigbus["in_page"] == "1", "\(output)")
                #expect(Self.int(sigbus, "waited_ms") >= Self.int(sigbus, "read_window_ms"), "the reads retried for their window: \(output)")
                #expect(sigbus["failed_faults"] == "1", "\(output)")
                #expect(Self.int(sigbus, "tier_failed_reads") >= 1, "\(output)")
                #expect(sigbus["still_swapped"] == "1" && sigbus["location"] == "file" && sigbus["same_handle"] == "1", "\(output)")
                #expect(run.fields(of: "sigbus-again:") == nil, "\(output)")

                // The nodes are back: the access is retried and reads the page.
                let touched = run.fields(of: "touched:")
                #expect(touched?["value"] == "ok" && touched?["sigbuses"] == "1", "\(output)")
                let resumed = run.fields(of: "resumed:")
                #expect(resumed?["ok"] == "1", "writeback resumed and the pool is back under its limit: \(output)")
                #expect(Self.int(resumed, "acknowledged") > Self.int(partitioned, "acknowledged_during"), "\(output)")
                #expect(run.fields(of: "after:")?["bad"] == "0", "\(output)")
                #expect(run.output.contains("closed: ok"), "\(output)")
                #expect(try await cluster.waitUntilHealthy())
            }
        }

        @Test("Encrypted (EncryptedPageTier over the cluster tier): the nodes hold ciphertext, pages come back; a value changed on a node or moved under another key (checksums fixed up) fails authentication, frees nothing, never returns a wrong page")
        func encryptedOverTheCluster() async throws {
            try await withCluster { cluster in
                let inner = try RedisTier(cluster.configuration())
                let tier = try EncryptedPageTier(wrapping: inner, capacity: 1024)
                let handles = try TestPages.write(tier, 0..<200)
                #expect(handles.count == 200)
                #expect(TestPages.verify(tier, handles).isEmpty)

                // What the nodes hold: one value per page, as long as its object, none of them a plaintext.
                let stored = try await values(of: inner, in: cluster)
                #expect(stored.count == 200)
                let objects = (0..<200).map { TestPages.object($0) }
                #expect(stored.values.map(\.payload.count).sorted() == objects.map(\.count).sorted())
                let plaintexts = Set(objects)
                #expect(!stored.values.contains { plaintexts.contains($0.payload) }, "a page reached a node in plaintext")
                // The same check on a plain tier's values does find its pages (so it can see one).
                let plain = try RedisTier(cluster.configuration())
                let plainHandles = try TestPages.write(plain, 0..<20)
                let plainStored = try await values(of: plain, in: cluster)
                #expect(plainStored.count == 20 && plainStored.values.allSatisfy { plaintexts.contains($0.payload) })
                plain.free(Array(plainHandles.values))

                // One value changed on its node, its checksum made right: the cluster tier reads it
                // fine, the encrypting tier's authentication fails.
                let keys = stored.keys.sorted()
                let (changedKey, movedFrom, movedTo) = (keys[0], keys[1], keys[2])
                var changed = stored[changedKey]!.payload
                changed[changed.count / 2] ^= 0x01
                try put(changed, under: changedKey, on: stored[changedKey]!.port)
                var wrong = TestPages.verify(tier, handles)
                #expect(wrong.count == 1, "\(wrong)")
                #expect(wrong.values.allSatisfy { $0.contains("corrupt") && $0.contains("slot") }, "\(wrong)")
                #expect(tier.authenticationFailureCount == 1)
                #expect(inner.statistics.tier.failedReads == 0, "the value passed the cluster tier's own checksum")

                // Another page's value under a key (checksum for that key): moved, also refused.
                try put(stored[movedFrom]!.payload, under: movedTo, on: stored[movedTo]!.port)
                wrong = TestPages.verify(tier, handles)
                #expect(wrong.count == 2, "\(wrong)")
                #expect(wrong.values.allSatisfy { $0.contains("corrupt") }, "\(wrong)")
                #expect(tier.authenticationFailureCount == 3)
                #expect(inner.statistics.tier.failedReads == 0)
                // Nothing was freed: both keys are still there, the other 198 pages read back.
                #expect(try await cluster.cli(stored[changedKey]!.port, ["EXISTS", changedKey]) == "1")
                #expect(try await cluster.cli(stored[movedTo]!.port, ["EXISTS", movedTo]) == "1")
                #expect(tier.tierStatistics.frees == 0 && tier.tierStatistics.storedObjects == 200)

                tier.free(Array(handles.values))
                #expect(TestPages.drainFrees(inner))
                #expect(TestPages.drainFrees(plain))
                try inner.close()
                try plain.close()
            }
        }
    }
}

/// A stored value: the master holding it, and its object (the value without its header).
struct StoredValue {
    var port: Int
    var payload: [UInt8]
}

/// Every page value of `tier`'s run on the masters of `cluster`, by key, read as bytes.
func values(of tier: RedisTier, in cluster: LocalCluster) async throws -> [String: StoredValue] {
    var found: [String: StoredValue] = [:]
    for master in try await cluster.masters() {
        let connection = try rawConnection(master.port)
        for key in try await cluster.keys(on: master.port, matching: tier.namespace.keyPattern) {
            guard case .bulk(let value) = try connection.command(["GET", key], deadline: rawDeadline()) else {
                Issue.record("GET \(key) on \(master.port) is not a value")
                continue
            }
            let payload = try #require(value.withUnsafeBytes { PageValue.parse($0).map { Array($0.object) } }, "\(key) is not a page value")
            found[key] = StoredValue(port: master.port, payload: payload)
        }
    }
    return found
}

/// Stores `object` under `key` on the node on `port` as the tier would (header and a CRC-32C
/// of the key and the object that verify), so only a check above the cluster tier can catch it.
func put(_ object: [UInt8], under key: String, on port: Int) throws {
    let keyBytes = Array(key.utf8)
    let checksum = object.withUnsafeBytes { o in keyBytes.withUnsafeBytes { CRC32C.checksum(o, continuing: CRC32C.checksum($0)) } }
    var value: [UInt8] = [PageValue.mark, PageValue.version, 0, 0]
    withUnsafeBytes(of: checksum.littleEndian) { value += $0 }
    value += object
    let connection = try rawConnection(port)
    RESP.appendArrayHeader(4, to: &connection.output)
    RESP.appendBulk("SET", to: &connection.output)
    keyBytes.withUnsafeBytes { RESP.appendBulk($0, to: &connection.output) }
    value.withUnsafeBytes { RESP.appendBulk($0, to: &connection.output) }
    RESP.appendBulk("XX", to: &connection.output)  // only over the page's own value
    try connection.flush(deadline: rawDeadline())
    let reply = try connection.readReply(deadline: rawDeadline())
    let answer = RESPParser.value(of: reply, in: connection.replyBytes)
    connection.consume(reply)
    #expect(answer == .simple("OK"), "SET \(key) on \(port): \(answer)")
}

/// A connection of the tier's own to the node on `port` (values are bytes; redis-cli's
/// arguments are text).
func rawConnection(_ port: Int) throws -> RedisConnection {
    let node = NodeAddress(host: "127.0.0.1", port: port)
    return try RedisConnection(to: node, at: SocketAddress(resolving: node), timeoutMilliseconds: 2000, bufferCapacity: 64 << 10)
}

/// Two seconds from now, as the connection's deadlines count.
func rawDeadline() -> Int { MonotonicClock.nanoseconds() + 2_000_000_000 }
