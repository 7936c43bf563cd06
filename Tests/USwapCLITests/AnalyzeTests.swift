import ArgumentParser
import Foundation
import Subprocess
import SystemPackage
import PageCodecs
import Testing

@testable import USwapCLI
import ProcessAnalysis
import TestSupport
import Workloads

#if os(Linux)
import Glibc
#endif

/// Runs a built executable (swift-subprocess: no fork of the test runner); returns its exit
/// status (nil when a signal ended it), standard output and standard error apart, since
/// `--json` must print its object alone on stdout.
private func runTool(_ path: String, _ arguments: [String]) async throws -> (status: Int32?, out: String, err: String) {
    let result = try await Subprocess.run(
        .path(FilePath(path)), arguments: Arguments(arguments), output: .string(limit: 1 << 24), error: .string(limit: 1 << 20))
    let status: Int32? = if case .exited(let code) = result.terminationStatus { code } else { nil }
    return (status, result.standardOutput, result.standardError)
}

/// The scoreboard's rule (the scoreboard's check_analyze): in the object whose "name"
/// or "codec" is `lz4`, the first key containing "mem" with a number, in output order.
/// (The output's members are sorted, so output order is sorted order.)
private func scoreboardMemory(_ value: Any) -> Int? {
    if let members = value as? [String: Any] {
        if members["name"] as? String == "lz4" || members["codec"] as? String == "lz4" {
            for key in members.keys.sorted() where key.lowercased().contains("mem") {
                if let n = members[key] as? Int { return n }
            }
        }
        for key in members.keys.sorted() {
            if let found = scoreboardMemory(members[key]!) { return found }
        }
    } else if let values = value as? [Any] {
        for v in values { if let found = scoreboardMemory(v) { return found } }
    }
    return nil
}

@Suite("uswap analyze: options, output, the command end to end")
struct AnalyzeTests {
    @Test(
        "codec lists parse, without duplicates",
        arguments: [("lz4", ["lz4"]), ("lz4,zstd-1", ["lz4", "zstd-1"]), (" zstd , lz4,zstd-1", ["zstd-1", "lz4"])])
    func codecLists(text: String, names: [String]) throws {
        #expect(try Analyze.parseCodecs(text).map(\.description) == names)
    }

    @Test("unknown codecs and empty lists are refused", arguments: ["lz9", "", ",", "zstd-99"])
    func badCodecLists(text: String) {
        #expect(throws: ValidationError.self) { try Analyze.parseCodecs(text) }
    }

    @Test("options are validated before anything runs", arguments: [
        ["--pid", "1", "--sample", "0"], ["--pid", "1", "--sample", "101"], ["--pid", "0"], ["--pid", "1", "--codec", "x"],
    ])
    func badOptions(arguments: [String]) {
        #expect(throws: (any Error).self) { _ = try Analyze.parse(arguments) }
    }

    @Test("JSON: the lz4 entry's first memory figure is the modeled kernel footprint, named as a model, as the scoreboard reads it; the device's own mem_used_total is beside it")
    func jsonMemoryKeyFirst() throws {
        let helper = try PatternHelper([.text: 8, .random: 4, .zero: 2])
        defer { helper.stop() }
        let report = try MemoryAnalysis(pid: helper.pid, codecs: [.lz4, try #require(PageCodecFactory(name: "zstd-1"))], pool: .zram).run()
        let json = AnalyzeOutput.json(report, command: "helper", dump: nil)
        let text = try jsonText(json)
        let pool = report.codecs[0].pool
        #expect(scoreboardMemory(try jsonObject(json)) == pool.kernelMemUsedTotal)
        // A model of the kernel's zsmalloc, named so; no member passes it off as the kernel's own figure.
        #expect(!text.contains("\"kernel_zram_mem_used_total\""))
        let kernelKey = try #require(text.range(of: "\"kernel_zram_mem_used_total_modeled\""))
        #expect(kernelKey.lowerBound < (text.range(of: "\"mem_used_total\"")?.lowerBound ?? text.startIndex), "the scoreboard reads the first one")
        // Our device commits span pages lazily: never more than the kernel would hold.
        #expect(pool.memUsedTotal > 0 && pool.memUsedTotal <= (pool.kernelMemUsedTotal ?? 0))
        // The text parses as one JSON object with the figures.
        let parsed = try #require(
            try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(parsed["scanned_pages"] as? Int == report.scannedPages)
        #expect(parsed["zero_pages"] as? Int == report.zeroPages)
        #expect(parsed["skipped_not_present_pages"] as? Int == report.notPresentPages)
        #expect(parsed["sampled"] as? Bool == false)
        let codecs = try #require(parsed["codecs"] as? [[String: Any]])
        #expect(codecs.map { $0["name"] as? String } == ["lz4", "zstd-1"])
        #expect(codecs[1]["mem_used_total"] as? Int == report.codecs[1].pool.memUsedTotal)
        let best = try #require(codecs[0]["best_mappings"] as? [[String: Any]])
        #expect(!best.isEmpty && best.count <= 5)
    }

    @Test("the human report names the skipped pages, the sample and an exit mid-scan")
    func humanReport() throws {
        let helper = try PatternHelper([.text: 8, .untouched: 3])
        defer { helper.stop() }
        var analysis = MemoryAnalysis(pid: helper.pid, codecs: [.lz4], pool: .zram)
        analysis.samplePercent = 50
        var report = try analysis.run()
        var text = AnalyzeOutput.human(report, command: "helper", dump: "/tmp/x.dump")
        #expect(text.contains("\(report.notPresentPages) not present"))
        #expect(text.contains("SAMPLED: 50.00%"))
        #expect(text.contains("projected for all \(report.presentPages) present pages"))
        #expect(text.contains("mem_used_total"))
        #expect(text.contains("Mappings that compress best with lz4"))
        #expect(text.contains("Mappings that compress worst with lz4"))
        #expect(!text.contains("PROCESS EXITED"))
        report.processExited = true
        text = AnalyzeOutput.human(report, command: nil, dump: nil)
        #expect(text.contains("PROCESS EXITED"))
    }

    @Test("sizes read like people write them", arguments: [(512, "512 B"), (4096, "4.0 KiB"), (3 << 20, "3.0 MiB"), (-2048, "-2.0 KiB")])
    func sizes(bytes: Int, text: String) {
        #expect(AnalyzeOutput.bytes(bytes) == text)
    }

    @Test("the built uswap analyzes the helper: one JSON object, a dump, exit status 0")
    func commandEndToEnd() async throws {
        guard let uswap = BuiltProducts.path(of: "uswap") else {
            CIGate.unavailable("the uswap executable is not built next to the tests")
            return
        }
        let helper = try PatternHelper([.text: 8, .same: 3])
        defer { helper.stop() }
        let dump = FileManager.default.temporaryDirectory.appendingPathComponent("uswap-cmd-\(getpid()).dump").path
        defer { try? FileManager.default.removeItem(atPath: dump) }
        let (status, out, err) = try await runTool(uswap, ["analyze", "--pid", "\(helper.pid)", "--codec", "lz4", "--json", "--dump", dump])
        #expect(status == 0, "stderr: \(err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let scanned = try #require(object["scanned_pages"] as? Int)
        #expect(object["same_filled_pages"] as? Int ?? 0 >= 3)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: dump)[.size] as? Int)
        #expect(size == scanned * MemoryAnalysis.systemPageSize)
    }

    @Test(
        "a signal during uswap analyze --dump removes the unfinished dump and ends with the signal's status",
        arguments: [("INT", "130"), ("TERM", "143")])
    func aSignalRemovesTheUnfinishedDump(signal: String, status: String) async throws {
        guard let uswap = BuiltProducts.path(of: "uswap") else {
            CIGate.unavailable("the uswap executable is not built next to the tests")
            return
        }
        // 64 MiB of incompressible pages through zstd-19: a scan of seconds, long after the
        // first batch reached the dump.
        let helper = try PatternHelper([.random: 16_384])
        defer { helper.stop() }
        let directory = try ScratchDirectory("analyze-signal")
        defer { directory.remove() }
        let dump = directory.path + "/pages.dump"
        let command = [uswap, "analyze", "--pid", "\(helper.pid)", "--codec", "zstd-19", "--json", "--dump", dump]
            .map { "'\($0)'" }.joined(separator: " ")
        // In the background of a shell with SIGINT back at its default (a shell without job
        // control starts background jobs with it ignored, and uswap keeps an ignored signal so).
        let script = """
            env --default-signal=INT \(command) > /dev/null 2>&1 &
            pid=$!
            i=0
            while ! [ -s '\(dump)' ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
            if kill -0 $pid 2> /dev/null; then running=yes; else running=no; fi
            kill -\(signal) $pid
            wait $pid
            echo "status=$? running=$running left=[$(ls -A '\(directory.path)' | tr '\\n' ',')]"
            """
        let run = try await HelperProcess.run(path: "/bin/sh", ["-c", script])
        let fields = try #require(run.fields(of: "status="), "\(run.output)")
        #expect(fields["running"] == "yes", "the scan was still running when the dump had data: \(fields)")
        #expect(fields["status"] == status, "\(fields)")
        #expect(fields["left"] == "[]", "the unfinished dump is gone: \(fields)")
    }

    @Test("uswap bench device accepts the dump and its ZramDevice uses what the analysis reported")
    func benchDeviceAcceptsTheDump() async throws {
        guard let uswap = BuiltProducts.path(of: "uswap") else {
            CIGate.unavailable("the uswap executable is not built next to the tests")
            return
        }
        let helper = try PatternHelper([.text: 20, .random: 10, .zero: 5, .same: 5])
        defer { helper.stop() }
        let dump = FileManager.default.temporaryDirectory.appendingPathComponent("uswap-bench-\(getpid()).dump").path
        defer { try? FileManager.default.removeItem(atPath: dump) }
        let (status, out, err) = try await runTool(uswap, ["analyze", "--pid", "\(helper.pid)", "--codec", "lz4", "--json", "--dump", dump])
        #expect(status == 0, "stderr: \(err)")
        let analysis = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let lz4 = try #require((analysis["codecs"] as? [[String: Any]])?.first)

        let (benchStatus, benchOut, benchErr) = try await runTool(
            uswap, ["bench", "device", "--corpus", dump, "--codec", "lz4", "--threads", "1", "--runs", "1", "--json"])
        #expect(benchStatus == 0, "stderr: \(benchErr)")
        let bench = try #require(try JSONSerialization.jsonObject(with: Data(benchOut.utf8)) as? [String: Any])
        #expect(bench["verified"] as? Bool == true)
        let mm = try #require(bench["mm_stat"] as? [String: Any])
        #expect(mm["orig_data_size"] as? Int == lz4["orig_data_size"] as? Int)
        #expect(mm["same_pages"] as? Int == lz4["same_pages"] as? Int)
        let ours = Double(try #require(lz4["mem_used_total"] as? Int))
        let theirs = Double(try #require(mm["mem_used_total"] as? Int))
        #expect(abs(ours / theirs - 1) <= 0.01, "analysis \(ours) vs bench device \(theirs)")
    }

    @Test("the built uswap says clearly when there is no such process")
    func commandNoSuchProcess() async throws {
        guard let uswap = BuiltProducts.path(of: "uswap") else {
            CIGate.unavailable("the uswap executable is not built next to the tests")
            return
        }
        let pid = try unusedPid()
        let (status, out, err) = try await runTool(uswap, ["analyze", "--pid", "\(pid)"])
        #expect(status != 0)
        #expect(out.isEmpty)
        #expect(err.contains("no process with pid \(pid)"))
    }

    @Test("the built uswap, run as another user, gets the ptrace permission explanation")
    func commandPermissionDenied() async throws {
        guard getuid() == 0 else {
            CIGate.unavailable("root, to drop to another user and provoke EPERM")
            return
        }
        guard let uswap = BuiltProducts.path(of: "uswap"), FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
        else {
            CIGate.unavailable("needs the uswap executable and /usr/bin/setpriv")
            return
        }
        let helper = try PatternHelper([.text: 2])
        defer { helper.stop() }
        let (status, _, err) = try await runTool(
            "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", uswap, "analyze", "--pid", "\(helper.pid)"])
        if err.contains("Permission denied") && !err.contains("ptrace") {
            // nobody cannot execute the build directory: the environment, not the code.
            CIGate.unavailable("user nobody cannot run \(uswap): \(err)")
            return
        }
        #expect(status != 0)
        #expect(err.contains("permission denied reading process \(helper.pid)"))
        #expect(err.contains("CAP_SYS_PTRACE"))
    }
}
