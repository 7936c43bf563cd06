import Testing
@testable import Swap

@Suite(.serialized) struct SwapRegionBytesTests {
    @Test func bytesWrittenThroughTheSpanComeBackAfterEviction() throws {
        guard userfaultfdAvailable() else { return }
        let pages = 256
        let region = try SwapRegion(SwapRegionConfiguration(size: pages * page, residentLimit: 32 * page), backend: MemoryBackend(slotCount: pages))
        defer { region.close() }
        region.withMutableBytes { bytes in
            #expect(bytes.byteCount == pages * page)
            for p in 0..<pages { bytes.storeBytes(of: UInt32(p) &* 2654435761, toByteOffset: p * page + 12, as: UInt32.self) }
        }
        #expect(region.statistics.swapOuts >= pages - 32)
        let wrong = region.withBytes { bytes in
            (0..<pages).filter { p in bytes.unsafeLoad(fromByteOffset: p * page + 12, as: UInt32.self) != UInt32(p) &* 2654435761 }.count
        }
        #expect(wrong == 0)
        #expect(region.statistics.swapIns > 0)
        region.checkInvariants()
    }

    @Test func theSpansCoverTheRegionAndAreBoundsChecked() throws {
        guard userfaultfdAvailable() else { return }
        let region = try SwapRegion(SwapRegionConfiguration(size: 64 * page, residentLimit: 16 * page), backend: MemoryBackend(slotCount: 64))
        defer { region.close() }
        let count = region.withBytes { $0.byteCount }
        #expect(count == region.size)
        let last = region.withBytes { bytes in bytes.extracting(droppingFirst: region.size - 8).byteCount }
        #expect(last == 8)
        #expect(region.isClosed == false)
    }
}
