import SystemSupport
import TestSupport
import Testing

@testable import KernelSwap

/// Every suite that touches the machine's real zram0, swap, zswap or memory cgroups nests in
/// this one, so they run one test at a time (`.serialized` covers nested suites, also those
/// declared in other files of this target; all such tests live in this target). They skip
/// (with the reason printed) when not root, without zram0, or when zram0 is in use; under
/// CI=true they fail instead (TestSupport's ``CIGate``).
@Suite(.serialized) struct RealMachineTests {
    /// Why the real zram0 cannot be used, or nil when it can.
    static func zram0UnavailableReason() -> String? {
        guard geteuid() == 0 else { return "not root" }
        let device = KernelZramDevice(name: "zram0", root: .live)
        guard Sysfs.exists(device.directory), Sysfs.exists(device.devicePath) else { return "no /dev/zram0" }
        do {
            let reasons = try device.inUseReasons()
            if !reasons.isEmpty { return "zram0 is in use: \(reasons.joined(separator: ", "))" }
        } catch {
            return "zram0 unreadable: \(error)"
        }
        return nil
    }

    /// True when a test of the real zram0 should go on; otherwise says why through the CI gate.
    static func zram0Available() -> Bool {
        guard let reason = zram0UnavailableReason() else { return true }
        CIGate.unavailable("kernel zram0 tests need root and an unused /dev/zram0: \(reason)")
        return false
    }

    /// True when a kernel-swap session with `backing` can run here; otherwise says why.
    static func kernelSwapAvailable(_ backing: KernelSwapBacking) -> Bool {
        guard let reason = KernelSwapSession.unavailableReason(backing: backing) else { return true }
        CIGate.unavailable("the kernel's \(backing) is not measurable here: \(reason)")
        return false
    }

    /// The path of a built product the test runs as a session's child, or nil after saying why.
    static func builtProduct(_ name: String) -> String? {
        guard let path = BuiltProducts.path(of: name) else {
            CIGate.unavailable("\(name) was not found beside the test binary (swift build --product \(name))")
            return nil
        }
        return path
    }
}
