import SystemPackage
import Testing

@testable import ProcessPager

@Suite struct PagerErrorTests {
    @Test func withoutAFullUserfaultfdTheMessageNamesEveryWayToGetOne() {
        let text = PagerError.fullUserfaultfdUnavailable(.notPermitted).description
        for way in ["root", "CAP_SYS_PTRACE", "/dev/userfaultfd", "vm.unprivileged_userfaultfd=1", "EFAULT"] {
            #expect(text.contains(way), "missing \(way)")
        }
    }

    @Test func missingFeaturesNameTheKernelToUse() {
        let text = PagerError.missingFeatures(have: 0x1, need: 0x1_004f).description
        #expect(text.contains("0x1004f") && text.contains("Linux 6.8"))
    }

    @Test func aBusySocketSuggestsTryingAgain() {
        #expect(PagerError.socket(name: "uswap-run.1", .addressInUse).description.contains("@uswap-run.1"))
    }
}
