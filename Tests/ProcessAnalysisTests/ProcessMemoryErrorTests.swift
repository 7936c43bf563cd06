import Foundation
import PageCodecs
import SystemPackage
import SystemSupport
import Testing
import Workloads

@testable import ProcessAnalysis

@Suite struct ProcessMemoryErrorTests {
    @Test(
        "errno values map to errors a user can act on",
        arguments: [
            (Errno.noSuchProcess, false, ProcessMemoryError.noSuchProcess(pid: 42)),
            (.noSuchFileOrDirectory, false, .noSuchProcess(pid: 42)),
            (.noSuchProcess, true, .processExited(pid: 42)),
            (.notPermitted, true, .permissionDenied(pid: 42, operation: "op")),
            (.permissionDenied, false, .permissionDenied(pid: 42, operation: "op")),
            (.ioError, true, .systemError(pid: 42, operation: "op", errno: .ioError)),
        ])
    func errnoMapping(code: Errno, started: Bool, expected: ProcessMemoryError) {
        #expect(ProcessMemoryError(errno: code, pid: 42, operation: "op", started: started) == expected)
    }

    @Test("the permission error explains ptrace access")
    func permissionMessage() {
        let text = ProcessMemoryError.permissionDenied(pid: 42, operation: "process_vm_readv").description
        #expect(text.contains("ptrace"))
        #expect(text.contains("ptrace_scope"))
        #expect(text.contains("CAP_SYS_PTRACE"))
        #expect(text.contains("same user"))
    }

    @Test("a system error names the call and the errno")
    func systemErrorMessage() {
        let text = ProcessMemoryError.systemError(pid: 7, operation: "read /proc/7/mem", errno: .ioError).description
        #expect(text == "read /proc/7/mem for process 7 failed: Input/output error (errno 5)")
    }
}
