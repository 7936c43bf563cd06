import SystemPackage
import Testing
@testable import Swap

/// That a descriptor is closed on every failure is proved in a process of its own
/// (SwapRegionTests' failed setups): counting descriptors here would race with other tests.
@Suite struct OwnedUserfaultfdTests {
    @Test func theHandshakeGrantsWhatARegionNeeds() throws {
        guard userfaultfdAvailable() else { return }
        let owned = try OwnedUserfaultfd.open(requesting: .required)
        #expect(owned.features.contains(.pagefaultFlagWP))
        #expect(owned.handle.fd >= 0)
        owned.checkInvariants()
        owned.close()
    }

    @Test func aFeatureNoKernelHasIsRefusedWithEINVAL() {
        guard userfaultfdAvailable() else { return }
        #expect(throws: Errno.invalidArgument) {
            _ = try OwnedUserfaultfd.open(requesting: UserfaultfdFeatures(rawValue: 1 << 62))
        }
    }
}
