import PageCodecs
import Testing
import ZRAM
@testable import Swap

/// The README's library examples with the same calls, at about a hundredth of their sizes (so a
/// debug build runs them in seconds), plus the assertions that check what each one claims: if an
/// API they use changes, this file stops compiling.
@Suite(.serialized) struct ReadmeExampleTests {
    @Test func codecExampleRoundTripsAPage() throws {
        let codec = try PageCodecFactory.lz4.makeStream()
        var page = [UInt8](repeating: 0, count: 4096)
        for i in stride(from: 0, to: 4096, by: 64) { page[i] = UInt8(truncatingIfNeeded: i / 64) }
        var packed = [UInt8](repeating: 0, count: codec.maxCompressedSize(for: 4096))
        var back = [UInt8](repeating: 0, count: 4096)
        let n = try #require(page.withUnsafeBytes { src in packed.withUnsafeMutableBytes { codec.compress(src, into: $0) } })
        let m = try packed.withUnsafeBytes { src in
            try back.withUnsafeMutableBytes { try codec.decompress(UnsafeRawBufferPointer(rebasing: src[..<n]), into: $0) }
        }
        #expect(m == 4096 && back == page)
    }

    @Test func regionExampleStoresAByteFarBeyondItsLimit() throws {
        guard userfaultfdAvailable() else { return }
        let device = try ZramDevice(ZramConfiguration(disksize: 16 << 20))
        let region = try SwapRegion(SwapRegionConfiguration(size: 10 << 20, residentLimit: 2560 << 10), backend: device)
        let bytes = region.baseAddress.assumingMemoryBound(to: UInt8.self)
        bytes[1_234_567] = 42
        for offset in stride(from: 0, to: 10 << 20, by: 4096) { bytes[offset] = 1 }  // evicts
        #expect(bytes[1_234_567] == 42)
        #expect(region.statistics.swapOuts > 0)
        #expect(device.mmStat.line.split(separator: " ").count >= 8)
        region.checkInvariants()
    }

    @Test func swapArrayExampleSumsWhatItStored() throws {
        guard userfaultfdAvailable() else { return }
        let zram = try ZramDevice(ZramConfiguration(disksize: 16 << 20))
        let count = 50_000_000 / 100
        let scores = try SwapArray(repeating: 0.0, count: count, residentLimit: 640 << 10, backend: zram)
        scores[42] = 3.5
        try scores.setElement(1.5, at: 43)
        #expect(throws: SwapError.self) { try scores.setElement(1, at: count) }
        scores.withMutableSpan { span in
            for i in span.indices { span[i] += Double(i % 7) }
        }
        let total = scores.withSpan { span in span.indices.reduce(0.0) { $0 + span[$1] } }
        let expected = (0..<count).reduce(0.0) { $0 + Double($1 % 7) } + 3.5 + 1.5
        #expect(total == expected)
        #expect(scores.region.statistics.swapOuts > 0, "4 MB of Doubles in 640 KiB of memory must swap")
        scores.region.checkInvariants()
    }
}
