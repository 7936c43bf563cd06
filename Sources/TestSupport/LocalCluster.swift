import Foundation
import SystemPackage
import Testing

/// A Redis Cluster of real redis-server processes on loopback, started by
/// scripts/redis-cluster.sh for one test and stopped after it (``withCluster(masters:replicas:nodeTimeout:_:)``),
/// whatever the test did. The script's watchdog stops it too if the test process dies.
public struct LocalCluster: Sendable {
    /// One node as the script's `status` reports it.
    public struct Node: Sendable, Equatable {
        /// The address it listens on.
        public var host: String
        /// Its port.
        public var port: Int
        /// Its redis-server process.
        public var pid: Int32
        /// `master` or `replica`.
        public var role: String
        /// `running` or `stopped`.
        public var state: String
    }

    /// The script's state directory.
    public let directory: String
    /// The first node's port.
    public let basePort: Int
    /// The nodes as they were started.
    public let nodes: [Node]

    /// `redis://HOST:PORT,...` of every node.
    public var url: String { "redis://" + nodes.map { "\($0.host):\($0.port)" }.joined(separator: ",") }

    /// The repository's scripts/redis-cluster.sh.
    public static var script: String {
        // #filePath: <root>/Sources/TestSupport/LocalCluster.swift
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/redis-cluster.sh").path
    }

    /// Whether Debian's redis-server and redis-cli are installed.
    public static var serverInstalled: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-cli")
    }

    /// Starts `masters` masters with `replicas` replicas each on free loopback ports.
    public static func start(masters: Int, replicas: Int, nodeTimeout: Int) async throws -> LocalCluster {
        var lastOutput = ""
        for _ in 0..<8 {
            // Bus ports (base + 10000) stay below the ephemeral range (32768 up), so no outgoing
            // connection holds one.
            let base = 20_000 + Int.random(in: 0..<250) * 10
            let directory = "/tmp/uswap-redis-test-\(base)"
            let run = try await HelperProcess.run(
                path: "/bin/bash",
                [script, "start", String(masters), "--replicas", String(replicas), "--base-port", String(base),
                 "--dir", directory, "--node-timeout", String(nodeTimeout), "--owner", String(getpid())])
            if run.exitCode == 0 {
                let cluster = LocalCluster(directory: directory, basePort: base, nodes: [])
                return LocalCluster(directory: directory, basePort: base, nodes: try await cluster.status())
            }
            lastOutput = run.output
            if run.exitCode != 3 { break }  // 3: ports in use, try others
        }
        throw ClusterScriptFailure(output: lastOutput)
    }

    /// Stops every node and removes the directory.
    public func stop() async {
        _ = try? await HelperProcess.run(path: "/bin/bash", [Self.script, "stop", "--dir", directory, "--base-port", String(basePort)])
    }

    /// The nodes now (roles change after a failover).
    public func status() async throws -> [Node] {
        let run = try await HelperProcess.run(path: "/bin/bash", [Self.script, "status", "--dir", directory, "--base-port", String(basePort)])
        guard run.exitCode == 0 else { throw ClusterScriptFailure(output: run.output) }
        var nodes: [Node] = []
        for line in run.output.split(separator: "\n") where line.hasPrefix("node ") {
            var fields: [String: String] = [:]
            for field in line.split(separator: " ").dropFirst() {
                let parts = field.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
            }
            nodes.append(Node(
                host: fields["host"] ?? "", port: Int(fields["port"] ?? "") ?? 0, pid: Int32(fields["pid"] ?? "") ?? 0,
                role: fields["role"] ?? "", state: fields["state"] ?? ""))
        }
        return nodes
    }

    /// The masters now.
    public func masters() async throws -> [Node] { try await status().filter { $0.role == "master" } }

    /// Runs redis-cli against the node on `port` (`-c`: following redirects); its output.
    @discardableResult
    public func cli(_ port: Int, _ arguments: [String], cluster: Bool = false) async throws -> String {
        let run = try await HelperProcess.run(
            path: "/usr/bin/redis-cli", ["-h", "127.0.0.1", "-p", String(port)] + (cluster ? ["-c"] : []) + arguments)
        return run.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Keys matching `pattern` on the node on `port` (SCAN).
    public func keys(on port: Int, matching pattern: String) async throws -> [String] {
        let output = try await cli(port, ["--scan", "--pattern", pattern])
        return output.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    /// Sends `signal` to the node on `port`.
    public func signal(_ signal: Int32, port: Int) {
        guard let node = nodes.first(where: { $0.port == port }), node.pid > 0 else { return }
        kill(node.pid, signal)
    }

    /// Waits until every running node reports cluster_state:ok with all slots served (after a
    /// node was stopped or killed, failovers may go on for a while); false after `seconds`.
    @discardableResult
    public func waitUntilHealthy(seconds: Double = 30) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            var healthy = true
            for node in try await status() where node.state == "running" {
                let info = try await cli(node.port, ["CLUSTER", "INFO"])
                if !info.contains("cluster_state:ok") || !info.contains("cluster_slots_ok:16384") { healthy = false }
            }
            if healthy { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    /// Every key under `prefix:` on every running node, waiting up to `seconds` for replicas to
    /// catch up with deletions; empty when the run left nothing.
    public func leftovers(prefix: String = "uswap", seconds: Double = 3) async throws -> [String] {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            var found: [String] = []
            guard let nodes = try? await status() else { return [] }  // stopped by the test itself
            for node in nodes where node.state == "running" {
                found += try await keys(on: node.port, matching: "\(prefix):*").map { "\(node.port) \($0)" }
            }
            if found.isEmpty || Date() > deadline { return found }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// The script failed; its output.
public struct ClusterScriptFailure: Error, CustomStringConvertible {
    /// What the script printed.
    public var output: String
    /// The script's output, introduced.
    public var description: String { "scripts/redis-cluster.sh failed:\n\(output)" }
}

/// Runs `body` with a fresh cluster, then checks that no key of any run is left on any node and
/// stops the cluster, even when `body` throws. Without redis-server it skips (fails under CI).
public func withCluster(
    masters: Int = 3, replicas: Int = 1, nodeTimeout: Int = 1000, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: (LocalCluster) async throws -> Void
) async throws {
    guard LocalCluster.serverInstalled else {
        CIGate.unavailable("redis-server is not installed (apt-get install redis-server redis-tools)", sourceLocation: sourceLocation)
        return
    }
    let cluster = try await LocalCluster.start(masters: masters, replicas: replicas, nodeTimeout: nodeTimeout)
    do {
        try await body(cluster)
        let left = try await cluster.leftovers()
        #expect(left.isEmpty, "keys left in the cluster: \(left.prefix(10))", sourceLocation: sourceLocation)
    } catch {
        await cluster.stop()
        throw error
    }
    await cluster.stop()
}
