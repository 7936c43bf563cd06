import Foundation
import Testing

@testable import ZRAM

@Suite struct SystemMemoryTests {
    func residentPages(_ base: UnsafeMutableRawPointer, _ length: Int) -> Int {
        var vector = [UInt8](repeating: 0, count: length / SystemMemory.pageSize)
        guard vector.withUnsafeMutableBufferPointer({ mincore(base, length, $0.baseAddress!) }) == 0 else { return -1 }
        return vector.reduce(0) { $0 + Int($1 & 1) }
    }

    @Test func aReservationCostsNothingUntilTouchedAndDiscardReturnsThePages() throws {
        let length = 64 * SystemMemory.pageSize
        let base = try #require(SystemMemory.reserve(length))
        defer { SystemMemory.release(base, bytes: length) }
        #expect(residentPages(base, length) == 0)
        base.initializeMemory(as: UInt8.self, repeating: 7, count: 16 * SystemMemory.pageSize)
        #expect(residentPages(base, length) == 16)
        SystemMemory.discard(base, bytes: 8 * SystemMemory.pageSize)
        #expect(residentPages(base, length) == 8)
        #expect(base.load(as: UInt8.self) == 0, "discarded pages read as zeros")
        #expect(base.load(fromByteOffset: 8 * SystemMemory.pageSize, as: UInt8.self) == 7)
    }

    @Test func clockAndProcessorCountAreSane() {
        let a = SystemMemory.monotonicSeconds()
        #expect(SystemMemory.monotonicSeconds() >= a)
        #expect(SystemMemory.processorCount >= 1)
        #expect(SystemMemory.pageSize >= 4096)
    }
}
