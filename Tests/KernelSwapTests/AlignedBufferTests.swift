import Foundation
import SystemPackage
import SystemSupport
import Testing

@testable import KernelSwap

@Suite struct AlignedBufferTests {
    @Test(arguments: [4096, 1 << 20, 3 << 20])
    func alignedBuffersAreAlignedAndZeroed(size: Int) throws {
        let buffer = try AlignedBuffer(byteCount: size, alignment: 4096)
        buffer.checkInvariants()
        #expect(Int(bitPattern: buffer.bytes.baseAddress) % 4096 == 0)
        #expect(buffer.byteCount == size)
        #expect(buffer.bytes.allSatisfy { $0 == 0 })
    }

    @Test func theAllocationErrorSaysHowMuch() {
        #expect(DirectIOError.allocation(bytes: 4096, errno: .noMemory).description.contains("4096 bytes"))
    }
}
