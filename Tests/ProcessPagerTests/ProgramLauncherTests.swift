import Glibc
import Testing

@testable import ProcessPager

@Suite struct ProgramLauncherTests {
    @Test func environmentUpdatesReplaceAndAdd() {
        let updated = ProgramLauncher.environment(["A=1", "B=2", "PATH=/bin"], updating: ["B": "3", "C": "4"])
        #expect(updated == ["A=1", "PATH=/bin", "B=3", "C=4"])
        #expect(ProgramLauncher.value(of: "B", in: updated) == "3")
        #expect(ProgramLauncher.value(of: "D", in: updated) == nil)
    }

    @Test func anUnknownCommandIsReportedAsNotFound() {
        #expect(throws: LaunchError.self) {
            _ = try ProgramLauncher.spawn(["uswap-no-such-command-xyz"], environment: ["PATH=/usr/bin:/bin"])
        }
        let error = LaunchError.spawn(command: "x", .noSuchFileOrDirectory)
        #expect(error.description == "x: command not found (check the name and PATH)")
        #expect(LaunchError.noCommand.description.contains("after --"))
    }

    @Test func aSpawnedProgramGetsItsEnvironmentAndItsStatusComesBack() throws {
        let pid = try ProgramLauncher.spawn(["/bin/sh", "-c", "exit $CODE"], environment: ["CODE=7"], defaultSignals: [SIGINT])
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)
        #expect((status >> 8) & 0xFF == 7)
    }
}
