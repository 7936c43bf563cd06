import Foundation
import Testing

@testable import TestSupport

/// CIGate fails a skip only under CI=true exactly, so the CI script must set exactly that,
/// whatever it inherits.
@Suite struct CIGateTests {
    /// The repository's root, from this file's path.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    @Test(arguments: ["1", "false", "yes", "", "TRUE"])
    func theCIEnvironmentSetsCITrueWhateverWasInherited(inherited: String) async throws {
        let run = try await HelperProcess.run(
            path: "/bin/bash", ["-c", "set -eu; cd '\(Self.repository)'; . .ci/env; echo \"ci=$CI\""],
            environment: ["CI": inherited])
        #expect(run.exitCode == 0, "\(run.output)")
        #expect(run.fields(of: "ci=")?["ci"] == "true", "\(run.output)")
    }

    @Test func theCIScriptRunsInThatEnvironment() throws {
        let script = try String(contentsOfFile: Self.repository + "/.ci/run", encoding: .utf8)
        let lines = script.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let sourced = try #require(lines.firstIndex(of: ". .ci/env"), ".ci/run sources .ci/env")
        let firstTest = try #require(lines.firstIndex { $0.hasPrefix("swift test") })
        #expect(sourced < firstTest, "before the first test step")
        #expect(!lines.contains { $0.hasPrefix("export CI=") || $0.hasPrefix("CI=") }, "nothing sets CI again")
    }
}
