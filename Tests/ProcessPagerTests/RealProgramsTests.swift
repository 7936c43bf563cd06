import Foundation
import ProcessPager
import TestSupport
import Testing

/// Issue 11's real programs (scripts/workloads/) at small sizes under `uswap run`, a quarter of
/// their heap or less: the same output as an unmanaged run, with real paging. The full-size runs
/// beside the kernel's are scripts/run-real-programs.sh (minutes each, not a test).
///
/// Opt-in (`USWAP_REAL_PROGRAMS=1 swift test --filter RealProgramsTests`): the four took 570 s
/// on a debug build with the machine's 2 cores at load 15, too long for every run of the suite.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["USWAP_REAL_PROGRAMS"] == "1", "set USWAP_REAL_PROGRAMS=1 (minutes)"))
struct RealProgramsTests {
    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var command: [String]
        var resident: String
        var minimumSwapOuts: Int
        var description: String { name }
    }

    static var workloads: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
            + "/scripts/workloads"
    }

    static let cases: [Case] = [
        Case(name: "python3", command: ["python3", "\(workloads)/pyjob.py", "60000", "1"], resident: "12M", minimumSwapOuts: 4096),
        Case(
            name: "java",
            command: ["java", "-Xmx128m", "-Xms32m", "-XX:-UseContainerSupport", "-XX:+UseSerialGC", "\(workloads)/JavaJob.java", "60000", "1"],
            resident: "24M", minimumSwapOuts: 4096),
        Case(name: "node", command: ["node", "--max-old-space-size=128", "\(workloads)/nodejob.js", "100000", "1"], resident: "20M", minimumSwapOuts: 4096),
        Case(name: "redis-server", command: ["python3", "\(workloads)/redisjob.py", "100000", "200"], resident: "12M", minimumSwapOuts: 4096),
    ]

    /// Whether `command` is on PATH.
    static func onPath(_ command: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { access("\($0)/\(command)", X_OK) == 0 }
    }

    @Test(arguments: cases)
    func aRealProgramGivesItsUnmanagedOutputUnderAQuarterOfItsHeap(_ program: Case) async throws {
        guard let uswap = RunEnvironment.uswap() else { return }
        let needed = program.name == "redis-server" ? ["python3", "redis-server"] : [program.command[0]]
        for command in needed where !Self.onPath(command) {
            CIGate.unavailable("\(command) on PATH (.ci/run installs redis-server; java and node come with this machine kind)")
            return
        }
        let plain = try await HelperProcess.run(path: "/usr/bin/env", program.command)
        #expect(plain.exitCode == 0, "unmanaged: \(plain.output)")
        let reportPath = NSTemporaryDirectory() + "uswap-real-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: reportPath) }
        let managed = try await HelperProcess.run(
            path: uswap, ["run", "--quiet", "--report", reportPath, "--resident", program.resident, "--", "/usr/bin/env"] + program.command)
        #expect(managed.exitCode == 0, "managed: \(managed.output)")
        #expect(managed.output == plain.output)
        let data = try #require(FileManager.default.contents(atPath: reportPath))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let report = try decoder.decode(RunReport.self, from: data)
        #expect(report.swapOuts >= program.minimumSwapOuts, "swap-outs \(report.swapOuts)")
        #expect(report.swapIns > 0)
        #expect(report.pager.lostPages == 0 && report.pager.failedReads == 0 && report.pager.unexpectedMissing == 0)
        #expect(report.pager.usedSlots == 0, "every slot is freed once the program is gone")
    }
}
