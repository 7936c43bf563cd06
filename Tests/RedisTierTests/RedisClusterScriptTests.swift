import Foundation
import Testing
import TestSupport

extension RealClusterTests {
    /// scripts/redis-cluster.sh: what it starts it stops, and it touches nothing else.
    @Suite("scripts/redis-cluster.sh")
    struct RedisClusterScriptTests {
        private func script(_ arguments: [String]) async throws -> HelperRun {
            try await HelperProcess.run(path: "/bin/bash", [LocalCluster.script] + arguments)
        }

        @Test("Ports in use are refused, and the cluster using them keeps running")
        func refusesPortsInUse() async throws {
            try await withCluster(masters: 1, replicas: 0) { cluster in
                let other = "/tmp/uswap-redis-test-other-\(getpid())"
                let run = try await script(["start", "1", "--replicas", "0", "--base-port", String(cluster.basePort), "--dir", other])
                #expect(run.exitCode == 3)
                #expect(run.output.contains("in use"))
                #expect(!FileManager.default.fileExists(atPath: other))
                #expect(try await cluster.cli(cluster.basePort, ["PING"]) == "PONG")
            }
        }

        @Test("stop refuses a directory the script did not make, and leaves it")
        func stopRefusesForeignDirectory() async throws {
            guard LocalCluster.serverInstalled else {
                CIGate.unavailable("redis-server is not installed (apt-get install redis-server redis-tools)")
                return
            }
            let directory = NSTemporaryDirectory() + "uswap-not-a-cluster-\(getpid())"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let run = try await script(["stop", "--dir", directory])
            #expect(run.exitCode != 0)
            #expect(run.output.contains("not touching it"))
            #expect(FileManager.default.fileExists(atPath: directory))
        }

        @Test("With --owner, the cluster stops by itself once the owner is gone")
        func watchdogStopsOrphans() async throws {
            guard LocalCluster.serverInstalled else {
                CIGate.unavailable("redis-server is not installed (apt-get install redis-server redis-tools)")
                return
            }
            let base = 22_500 + Int.random(in: 0..<20) * 10
            let directory = "/tmp/uswap-redis-test-\(base)"
            // The owner is this short-lived shell: it starts the cluster, prints the node's pid and exits.
            let run = try await HelperProcess.run(path: "/bin/bash", [
                "-c", "\"$0\" start 1 --replicas 0 --base-port \(base) --dir \(directory) --owner $$ >/dev/null && cat \(directory)/\(base)/redis.pid",
                LocalCluster.script,
            ])
            try #require(run.exitCode == 0, "start failed: \(run.output)")
            let pid = try #require(Int32(run.output.trimmingCharacters(in: .whitespacesAndNewlines)))
            let deadline = Date().addingTimeInterval(15)
            while (kill(pid, 0) == 0 || FileManager.default.fileExists(atPath: directory)) && Date() < deadline {
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(kill(pid, 0) != 0, "node \(pid) still runs after its owner exited")
            #expect(!FileManager.default.fileExists(atPath: directory))
            _ = try? await script(["stop", "--dir", directory, "--base-port", String(base)])
        }

        @Test("stop twice is harmless; status of a stopped cluster says there is none")
        func stopIsIdempotent() async throws {
            try await withCluster(masters: 1, replicas: 0) { cluster in
                let status = try await cluster.status()
                #expect(status.count == 1 && status[0].role == "master" && status[0].state == "running")
                await cluster.stop()
                await cluster.stop()
                let run = try await script(["status", "--dir", cluster.directory])
                #expect(run.exitCode == 3)
                #expect(kill(status[0].pid, 0) != 0)
            }
        }
    }
}
