import SystemPackage
import Testing

@testable import SystemSupport

@Suite struct ChildProcessTests {
    /// Runs `/bin/sh -c script` and collects its lines.
    func shell(_ script: String, environment: [String: String] = [:], silence: Int? = nil) throws -> (ChildProcess.Outcome, [String]) {
        var lines: [String] = []
        let outcome = try ChildProcess.run(
            "/bin/sh", ["-c", script], environment: environment, silenceTimeoutMilliseconds: silence) { lines.append($0) }
        return (outcome, lines)
    }

    @Test func passesEveryLineAndTheExitStatus() throws {
        let (outcome, lines) = try shell("echo first; echo; printf 'second\\nlast without newline'; exit 3")
        #expect(outcome == ChildProcess.Outcome(termination: .exited(3), killedForSilence: false))
        #expect(lines == ["first", "", "second", "last without newline"])
    }

    @Test func reportsTheSignalThatEndedTheChild() throws {
        let (outcome, lines) = try shell("echo before; kill -BUS $$; echo after")
        #expect(outcome.termination == .signaled(SIGBUS))
        #expect(outcome.termination.description == "signal \(SIGBUS)")
        #expect(lines == ["before"])
    }

    @Test func addsEnvironmentVariablesAndKeepsTheRest() throws {
        let (_, lines) = try shell("echo \"$USWAP_CHILD_TEST:${PATH:+path}\"", environment: ["USWAP_CHILD_TEST": "set"])
        #expect(lines == ["set:path"])
    }

    @Test func killsAChildSilentForLongerThanTheTimeout() throws {
        let (outcome, lines) = try shell("echo started; exec sleep 30", silence: 300)
        #expect(outcome == ChildProcess.Outcome(termination: .signaled(SIGKILL), killedForSilence: true))
        #expect(lines == ["started"])
    }

    @Test func aMissingExecutableThrowsItsErrno() {
        #expect(throws: Errno.noSuchFileOrDirectory) { try ChildProcess.run("/nonexistent/uswap-child", []) { _ in } }
    }
}
