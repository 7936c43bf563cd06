import Foundation
import PageCodecs
import SystemPackage
import SystemSupport
import Testing
import Workloads

@testable import ProcessAnalysis

@Suite struct PageResidencyTests {
    @Test(
        "pagemap entries decode to present, swapped and not present",
        arguments: [
            (UInt64(1) << 63 | 0x1234, PageResidency.present),
            (UInt64(1) << 62 | 0x55, PageResidency.swapped),
            (UInt64(0), PageResidency.notPresent),
            (UInt64(1) << 55, PageResidency.notPresent),
        ])
    func pagemapDecoding(entry: UInt64, residency: PageResidency) {
        #expect(PageResidency(pagemapEntry: entry) == residency)
    }
}
