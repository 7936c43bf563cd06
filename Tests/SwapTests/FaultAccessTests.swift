import CUSwap
import Testing
@testable import Swap

@Suite struct FaultAccessTests {
    @Test func rawValuesAreTheTrampolinesValues() {
        #expect(FaultAccess.unknown.rawValue == CUSWAP_ACCESS_UNKNOWN)
        #expect(FaultAccess.read.rawValue == CUSWAP_ACCESS_READ)
        #expect(FaultAccess.write.rawValue == CUSWAP_ACCESS_WRITE)
    }

    @Test(arguments: [(CUSWAP_ACCESS_READ, FaultAccess.read), (CUSWAP_ACCESS_WRITE, .write), (CUSWAP_ACCESS_UNKNOWN, .unknown), (42, .unknown)])
    func aReportedAccessConverts(reported: Int32, access: FaultAccess) {
        #expect(FaultAccess(reported: reported) == access)
    }

    @Test func messageFlagsMakeAWriteOfEitherWriteBit() {
        #expect(FaultAccess(messageFlags: 0) == .read)
        #expect(FaultAccess(messageFlags: cuswap_pagefault_flag_write) == .write)
        #expect(FaultAccess(messageFlags: cuswap_pagefault_flag_wp) == .write)
    }
}
