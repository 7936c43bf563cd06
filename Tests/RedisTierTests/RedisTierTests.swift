import Foundation
import Synchronization
import SystemSupport
import Testing
import TestSupport

@testable import RedisTier

/// The tier against real clusters of redis-server processes (scripts/redis-cluster.sh): each
/// test starts its own cluster, and after each one no key of any run is left on any node.
extension RealClusterTests {
    @Suite("RedisTier against a real Redis Cluster")
    struct RedisTierTests {
        @Test("Thousands of pages go in, come back byte for byte, spread over every master, and are freed")
        func writeReadFreeThousands() async throws {
            try await withCluster { cluster in
                let tier = try RedisTier(cluster.configuration())
                let handles = try TestPages.write(tier, 0..<3000)
                #expect(handles.count == 3000)
                #expect(TestPages.verify(tier, handles).isEmpty)
                let statistics = tier.statistics
                #expect(statistics.tier.acknowledgedWrites == 3000)
                #expect(statistics.tier.storedObjects == 3000)
                #expect(statistics.tier.reads == 3000)
                #expect(statistics.tier.failedReads == 0)

                // Each master holds at least 20% of the run's keys: no hash tag pins them to one node.
                for master in try await cluster.masters() {
                    let keys = try await cluster.keys(on: master.port, matching: tier.namespace.keyPattern)
                    #expect(keys.count >= 600, "master \(master.port) holds \(keys.count) of 3000 keys")
                }

                tier.free(Array(handles.values))
                #expect(TestPages.drainFrees(tier))
                #expect(tier.statistics.tier.frees == 3000)
                #expect(tier.statistics.tier.storedObjects == 0)
                for master in try await cluster.masters() {
                    #expect(try await cluster.keys(on: master.port, matching: tier.namespace.keyPattern).isEmpty)
                }
                try tier.close()
            }
        }

        @Test("Every read checks the value: a foreign value or a changed byte is corrupt, a deleted key missing, nothing freed")
        func readsVerifyChecksums() async throws {
            try await withCluster { cluster in
                let tier = try RedisTier(cluster.configuration())
                let handles = try TestPages.write(tier, 0..<10)
                let port = cluster.nodes[0].port
                try await cluster.cli(port, ["SET", tier.key(for: handles[0]!), "not a page"], cluster: true)
                try await cluster.cli(port, ["SETRANGE", tier.key(for: handles[1]!), "12", "X"], cluster: true)
                try await cluster.cli(port, ["UNLINK", tier.key(for: handles[2]!)], cluster: true)
                var buffer = [UInt8](repeating: 0, count: tier.maxObjectSize)
                func read(_ i: Int, count: Int = 4096) throws -> Int {
                    try buffer.withUnsafeMutableBytes { raw in
                        try tier.read(handles[i]!, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<count]))
                    }
                }
                #expect {
                    try read(0)
                } throws: { error in
                    guard case .corrupt(_, let reason) = error as? PageTierError else { return false }
                    return reason.contains("not a page value")
                }
                #expect {
                    try read(1)
                } throws: { error in
                    guard case .corrupt(_, let reason) = error as? PageTierError else { return false }
                    return reason.contains("CRC-32C")
                }
                #expect(throws: PageTierError.missing(handle: handles[2]!.rawValue)) { try read(2) }
                #expect(throws: PageTierError.bufferTooSmall(needed: TestPages.object(5).count, available: 10)) { try read(5, count: 10) }
                #expect(tier.statistics.tier.failedReads == 4)
                // The other pages are untouched.
                let rest = handles.filter { $0.key >= 3 }
                #expect(TestPages.verify(tier, rest).isEmpty)
                tier.free(Array(handles.values))
                try tier.close()
            }
        }

        @Test("Reads follow ASK while a slot migrates and MOVED once it moved; every page reads back")
        func redirectsDuringResharding() async throws {
            try await withCluster { cluster in
                let tier = try RedisTier(cluster.configuration())
                let handles = try TestPages.write(tier, 0..<1500)
                // The slot holding the most of the run's keys (sequential handles often give each
                // key a slot of its own: CRC16 is linear).
                let bySlot = Dictionary(grouping: handles, by: { HashSlot.slot(of: tier.key(for: $0.value)) })
                let (slot, inSlot) = try #require(bySlot.max { $0.value.count < $1.value.count })
                let masters = try await cluster.masters()
                let source = try #require(try await owner(of: slot, cluster))
                let target = try #require(masters.first { $0.port != source.port })
                let sourceID = try await cluster.cli(source.port, ["CLUSTER", "MYID"])
                let targetID = try await cluster.cli(target.port, ["CLUSTER", "MYID"])
                #expect(try await cluster.cli(target.port, ["CLUSTER", "SETSLOT", String(slot), "IMPORTING", sourceID]) == "OK")
                #expect(try await cluster.cli(source.port, ["CLUSTER", "SETSLOT", String(slot), "MIGRATING", targetID]) == "OK")
                // With one key in the slot, it is the one that moves and the one read after the move.
                let moved = inSlot[0]
                let staying = inSlot.count > 1 ? inSlot[1] : inSlot[0]
                #expect(try await cluster.cli(source.port, [
                    "MIGRATE", "127.0.0.1", String(target.port), "", "0", "5000", "KEYS", tier.key(for: moved.value),
                ]) == "OK")
                // The migrated key: the source answers ASK, the tier asks the target.
                #expect(TestPages.verify(tier, [moved.key: moved.value]).isEmpty)
                #expect(tier.statistics.askRedirects >= 1)
                if inSlot.count > 1 { #expect(TestPages.verify(tier, [staying.key: staying.value]).isEmpty) }

                // Finish the move: the rest of the slot's keys, then the slot itself.
                for (_, handle) in inSlot.dropFirst() {
                    try await cluster.cli(source.port, ["MIGRATE", "127.0.0.1", String(target.port), "", "0", "5000", "KEYS", tier.key(for: handle)])
                }
                for master in masters {
                    try await cluster.cli(master.port, ["CLUSTER", "SETSLOT", String(slot), "NODE", targetID])
                }
                // The tier's map still names the source: it answers MOVED.
                #expect(TestPages.verify(tier, [staying.key: staying.value]).isEmpty)
                #expect(tier.statistics.movedRedirects >= 1)
                #expect(TestPages.verify(tier, handles).isEmpty)
                // Writes go to the new owner too, and frees find every key.
                let more = try TestPages.write(tier, 1500..<1700)
                #expect(more.count == 200)
                #expect(TestPages.verify(tier, more).isEmpty)
                tier.free(Array(handles.values) + Array(more.values))
                #expect(TestPages.drainFrees(tier))
                try tier.close()
            }
        }

        @Test("Reads and writes go on through redis-cli --cluster reshard; nothing is lost")
        func keepsWorkingThroughAReshard() async throws {
            try await withCluster { cluster in
                let tier = try RedisTier(cluster.configuration())
                let handles = try TestPages.write(tier, 0..<2000)
                let masters = try await cluster.masters()
                let fromID = try await cluster.cli(masters[0].port, ["CLUSTER", "MYID"])
                let toID = try await cluster.cli(masters[1].port, ["CLUSTER", "MYID"])
                let stop = Atomic<Bool>(false)
                let problems = Mutex<[String]>([])
                let written = Mutex<[Int: PageTierHandle]>([:])
                let worker = try NativeThread.start {
                    var next = 2000
                    while !stop.load(ordering: .relaxed) {
                        let wrong = TestPages.verify(tier, handles)
                        if !wrong.isEmpty { problems.withLock { $0.append("reads during the reshard: \(wrong.prefix(3))") } }
                        if let more = try? TestPages.write(tier, next..<(next + 50)) {
                            written.withLock { $0.merge(more) { a, _ in a } }
                        }
                        next += 50
                    }
                }
                let reshard = try await HelperProcess.run(
                    path: "/usr/bin/redis-cli",
                    ["--cluster", "reshard", "127.0.0.1:\(masters[0].port)", "--cluster-from", fromID, "--cluster-to", toID,
                     "--cluster-slots", "1500", "--cluster-yes", "--cluster-pipeline", "100"])
                stop.store(true, ordering: .relaxed)
                worker.join()
                #expect(reshard.exitCode == 0, "reshard failed: \(reshard.output.suffix(500))")
                #expect(problems.withLock { $0 }.isEmpty)
                let more = written.withLock { $0 }
                #expect(TestPages.verify(tier, handles).isEmpty)
                #expect(TestPages.verify(tier, more).isEmpty)
                let statistics = tier.statistics
                #expect(statistics.movedRedirects + statistics.askRedirects > 0)
                tier.free(Array(handles.values) + Array(more.values))
                #expect(TestPages.drainFrees(tier))
                try tier.close()
            }
        }

        @Test("SIGKILL of a master: its replica takes over, every page reads back, writes resume")
        func masterKilledMidRun() async throws {
            try await withCluster(nodeTimeout: 1000) { cluster in
                let tier = try RedisTier(cluster.configuration())
                let handles = try TestPages.write(tier, 0..<1500)
                let victim = try await cluster.masters()[1]
                cluster.signal(SIGKILL, port: victim.port)
                // Reads of the dead master's pages go to its replica until it is promoted.
                #expect(TestPages.verify(tier, handles).isEmpty)
                // Writes to its slots are refused until the failover; then they go to the new master.
                let more = try TestPages.write(tier, 1500..<2000, seconds: 30)
                #expect(more.count == 500)
                #expect(TestPages.verify(tier, handles).isEmpty)
                #expect(TestPages.verify(tier, more).isEmpty)
                let statistics = tier.statistics
                #expect(statistics.replicaReads + statistics.readRetries > 0)
                #expect(statistics.tier.failedReads == 0)
                let promoted = try await cluster.masters()
                #expect(promoted.count == 3 && !promoted.contains { $0.port == victim.port })
                tier.free(Array(handles.values) + Array(more.values))
                #expect(TestPages.drainFrees(tier))
                try tier.close()
            }
        }

        @Test("SIGSTOP of a master for a few seconds: reads retry (its replica serves them), then everything reads back")
        func masterStoppedForSeconds() async throws {
            try await withCluster(nodeTimeout: 1000) { cluster in
                let tier = try RedisTier(cluster.configuration())
                let handles = try TestPages.write(tier, 0..<1000)
                let victim = try await cluster.masters()[0]
                cluster.signal(SIGSTOP, port: victim.port)
                let stopped = Date()
                let during = TestPages.verify(tier, handles)
                try await Task.sleep(for: .seconds(max(0, 3 - Date().timeIntervalSince(stopped))))
                cluster.signal(SIGCONT, port: victim.port)
                #expect(during.isEmpty, "reads while a master was stopped: \(during.prefix(3))")
                #expect(TestPages.verify(tier, handles).isEmpty)
                #expect(tier.statistics.readRetries > 0)
                let more = try TestPages.write(tier, 1000..<1200)
                #expect(more.count == 200)
                tier.free(Array(handles.values) + Array(more.values))
                #expect(TestPages.drainFrees(tier))
                try tier.close()
            }
        }

        @Test("Every node stopped past the retry window: reads throw unavailable and free nothing, writes are refused; after SIGCONT all reads back and writes resume")
        func wholeClusterStopped() async throws {
            try await withCluster(nodeTimeout: 1000) { cluster in
                let tier = try RedisTier(cluster.configuration())
                #expect(tier.clusterNodeTimeoutMilliseconds == 1000)
                #expect(tier.readRetryMilliseconds >= 2 * tier.clusterNodeTimeoutMilliseconds)
                let handles = try TestPages.write(tier, 0..<300)
                for node in cluster.nodes { cluster.signal(SIGSTOP, port: node.port) }
                var buffer = [UInt8](repeating: 0, count: tier.maxObjectSize)
                let started = Date()
                let readError = buffer.withUnsafeMutableBytes { raw -> PageTierError? in
                    do { _ = try tier.read(handles[0]!, into: raw) } catch { return error as? PageTierError }
                    return nil
                }
                let waited = Date().timeIntervalSince(started)
                var batch = PageTierBatch(capacity: 8, maxObjectSize: tier.maxObjectSize)
                for i in 0..<8 { try TestPages.object(300 + i).withUnsafeBytes { _ = try batch.append($0) } }
                try tier.write(&batch)
                let refused = batch.acknowledgedCount == 0
                let failure = batch.failure
                for node in cluster.nodes { cluster.signal(SIGCONT, port: node.port) }
                #expect(try await cluster.waitUntilHealthy())

                guard case .unavailable(let reason) = readError else {
                    Issue.record("a read with every node stopped ended with \(String(describing: readError))")
                    return
                }
                #expect(reason.contains("attempts"))
                #expect(waited >= Double(tier.readRetryMilliseconds) / 1000 - 0.05)
                #expect(refused)
                #expect(failure != nil)
                #expect(tier.statistics.tier.failedReads == 1)
                #expect(tier.statistics.tier.frees == 0)
                // Back: every page is still there, and writes are acknowledged again.
                #expect(TestPages.verify(tier, handles).isEmpty)
                let more = try TestPages.write(tier, 300..<400)
                #expect(more.count == 100)
                tier.free(Array(handles.values) + Array(more.values))
                #expect(TestPages.drainFrees(tier), "\(String(describing: tier.lastFreeProblem)) \(tier.statistics.lines)")
                try tier.close()
            }
        }

        @Test("The whole cluster down at start: a clear error that names the addresses and what to do")
        func clusterDownAtStart() throws {
            var configuration = try RedisTierConfiguration(url: "redis://127.0.0.1:1,127.0.0.1:2")
            configuration.connectTimeoutMilliseconds = 200
            #expect {
                _ = try RedisTier(configuration)
            } throws: { error in
                guard let error = error as? RedisTierError, case .unreachable(let detail) = error else { return false }
                return detail.contains("127.0.0.1:1") && detail.contains("127.0.0.1:2") && error.description.contains("start it")
            }
        }

        @Test("A replica count WAIT cannot meet: nothing is acknowledged, the pages stay with the caller, no key is left")
        func replicaShortfallKeepsPagesLocal() async throws {
            try await withCluster(masters: 3, replicas: 1) { cluster in
                var configuration = cluster.configuration(replicas: 2)
                configuration.waitTimeoutMilliseconds = 100
                let tier = try RedisTier(configuration)
                var batch = PageTierBatch(capacity: 20, maxObjectSize: tier.maxObjectSize)
                for i in 0..<20 { try TestPages.object(i).withUnsafeBytes { _ = try batch.append($0) } }
                try tier.write(&batch)
                #expect(batch.acknowledgedCount == 0)
                #expect(batch.failure.map { "\($0)" }?.contains("WAIT 2 answered 1") == true)
                #expect(tier.statistics.replicaShortfalls == 20)
                #expect(tier.statistics.tier.refusedWrites == 20)
                #expect(tier.statistics.tier.storedObjects == 0)
                // The SETs that landed are deleted in the background.
                #expect(TestPages.drainFrees(tier))
                for master in try await cluster.masters() {
                    #expect(try await cluster.keys(on: master.port, matching: tier.namespace.keyPattern).isEmpty)
                }
                // With one replica asked for, the same pages are acknowledged.
                let one = try RedisTier(cluster.configuration(replicas: 1))
                try one.write(&batch)
                #expect(batch.acknowledgedCount == 20)
                try tier.close()
                try one.close()
            }
        }

        @Test("A cluster whose maxmemory-policy may evict keys is refused, naming the node")
        func evictingClusterRefused() async throws {
            try await withCluster(masters: 3, replicas: 1) { cluster in
                let replica = try #require(try await cluster.status().first { $0.role == "replica" })
                #expect(try await cluster.cli(replica.port, ["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]) == "OK")
                #expect(throws: RedisTierError.evictionPolicy(node: "127.0.0.1:\(replica.port)", policy: "allkeys-lru")) {
                    _ = try RedisTier(cluster.configuration())
                }
            }
        }

        @Test("The catalog's example (StoringPagesInACluster) runs as written")
        func catalogExample() async throws {
            try await withCluster { cluster in
                let tier = try RedisTier(try RedisTierConfiguration(url: cluster.url))

                // 64 objects: here plain bytes; a pool would append compressed pages.
                var batch = PageTierBatch(capacity: 64, maxObjectSize: tier.maxObjectSize)
                for i in 0..<64 {
                    let object = [UInt8](repeating: UInt8(i), count: 100 + i * 50)
                    try object.withUnsafeBytes { _ = try batch.append($0) }
                }
                try tier.write(&batch)  // one pipeline per master, then WAIT 1
                var handles: [PageTierHandle] = []
                for i in 0..<batch.count {
                    // Acknowledged: the master and a replica hold it; the local copy may go.
                    if let handle = batch.handle(at: i) { handles.append(handle) }
                }
                print("acknowledged \(handles.count) of \(batch.count)", batch.failure.map { "\($0)" } ?? "")

                var buffer = [UInt8](repeating: 0, count: tier.maxObjectSize)
                for handle in handles {
                    let length = try buffer.withUnsafeMutableBytes { try tier.read(handle, into: $0) }
                    print(tier.key(for: handle), length, "bytes, checksum verified")
                }

                tier.free(handles)  // queued, sent as pipelined UNLINKs
                print(tier.statistics.lines, terminator: "")
                try tier.close()  // nothing of the run is left in the cluster
                #expect(handles.count == 64)
            }
        }

        @Test("A tier released without close goes away (its thread lets go), and gc removes what it left once its lease expired")
        func releasedWithoutClose() async throws {
            try await withCluster { cluster in
                var configuration = cluster.configuration()
                configuration.leaseTTLMilliseconds = 600
                weak var released: RedisTier?
                var leaseKey = ""
                do {
                    let tier = try RedisTier(configuration)
                    released = tier
                    leaseKey = tier.namespace.leaseKey
                    #expect(try TestPages.write(tier, 0..<20).count == 20)
                }
                let deadline = Date().addingTimeInterval(2)
                while released != nil && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
                #expect(released == nil)
                // Nobody refreshes the lease any more: it expires (600 ms).
                let expiry = Date().addingTimeInterval(10)
                while try await cluster.cli(cluster.nodes[0].port, ["EXISTS", leaseKey], cluster: true) != "0" && Date() < expiry {
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(try await cluster.cli(cluster.nodes[0].port, ["EXISTS", leaseKey], cluster: true) == "0")
                let report = try RedisTier.collectGarbage(configuration)
                #expect(report.keysRemoved == 20)
            }
        }

        @Test("Four threads write, read and free at once; every page is theirs")
        func concurrentThreads() async throws {
            try await withCluster { cluster in
                let tier = try RedisTier(cluster.configuration())
                let problems = Mutex<[String]>([])
                NativeThread.runAll(4) { t in
                    do {
                        let handles = try TestPages.write(tier, (t * 10_000)..<(t * 10_000 + 400), batchSize: 16)
                        if handles.count != 400 { problems.withLock { $0.append("thread \(t): \(handles.count) of 400 written") } }
                        let wrong = TestPages.verify(tier, handles)
                        if !wrong.isEmpty { problems.withLock { $0.append("thread \(t): \(wrong.prefix(3))") } }
                        let half = handles.filter { $0.key % 2 == 0 }
                        tier.free(Array(half.values))
                        let rest = handles.filter { $0.key % 2 == 1 }
                        let after = TestPages.verify(tier, rest)
                        if !after.isEmpty { problems.withLock { $0.append("thread \(t) after frees: \(after.prefix(3))") } }
                        tier.free(Array(rest.values))
                    } catch {
                        problems.withLock { $0.append("thread \(t): \(error)") }
                    }
                }
                #expect(problems.withLock { $0 }.isEmpty)
                #expect(TestPages.drainFrees(tier))
                #expect(tier.statistics.tier.frees == 1600)
                try tier.close()
            }
        }
    }
}

/// The master serving `slot` now, from CLUSTER NODES.
func owner(of slot: Int, _ cluster: LocalCluster) async throws -> LocalCluster.Node? {
    let text = try await cluster.cli(cluster.nodes[0].port, ["CLUSTER", "NODES"])
    for line in text.split(separator: "\n") {
        let fields = line.split(separator: " ")
        guard fields.count >= 9, fields[2].contains("master") else { continue }
        for range in fields[8...] where !range.hasPrefix("[") {
            let bounds = range.split(separator: "-").compactMap { Int($0) }
            let low = bounds.first ?? -1
            let high = bounds.count > 1 ? bounds[1] : low
            if slot >= low && slot <= high {
                let port = Int(fields[1].split(separator: "@")[0].split(separator: ":").last ?? "") ?? 0
                return cluster.nodes.first { $0.port == port }
            }
        }
    }
    return nil
}
