import Testing
import Workloads

/// A page-aligned buffer owned by the test for the duration of one test.
private final class TestMemory {
    let bytes: UnsafeMutableRawBufferPointer
    init(byteCount: Int) { bytes = .allocate(byteCount: byteCount, alignment: 4096) }
    deinit { bytes.deallocate() }
    var base: UnsafeMutableRawPointer { bytes.baseAddress! }
}

/// A small synthetic corpus: `pages` pages, each a different byte pattern.
private func syntheticCorpus(pages: Int) -> TestMemory {
    let corpus = TestMemory(byteCount: pages * 4096)
    for i in 0..<corpus.bytes.count { corpus.bytes[i] = UInt8(truncatingIfNeeded: i &* 7 &+ i / 4096 &* 13) }
    return corpus
}

@Suite struct SwapWorkloadTests {
    @Test(arguments: [(0.0, 1), (0.99, 1), (0.0, 2), (0.99, 3)])
    func untouchedByOthersTheRegionMatchesTheModel(zipf: Double, threads: Int) throws {
        let workload = try SwapWorkload(sizeBytes: 2 << 20, touches: 30000, writePercent: 50, zipf: zipf, threads: threads)
        let corpus = syntheticCorpus(pages: 37)
        let region = TestMemory(byteCount: workload.sizeBytes)
        try workload.fill(region.base, corpus: UnsafeRawBufferPointer(corpus.bytes))
        let result = workload.touch(region.base)
        #expect(result.seconds >= 0)
        let writes = workload.writeModel()
        #expect(writes.count > 30000 * 45 / 100 && writes.count < 30000 * 55 / 100)
        let verification = try workload.verify(UnsafeRawPointer(region.base), corpus: UnsafeRawBufferPointer(corpus.bytes), writes: writes)
        #expect(verification == .init(pages: 512, mismatches: 0, firstMismatch: nil))
        #expect(verification.verified)
    }

    @Test func aCorruptedPageIsCountedAsAMismatch() throws {
        let workload = try SwapWorkload(sizeBytes: 1 << 20, touches: 5000, writePercent: 30, zipf: 0, threads: 1)
        let corpus = syntheticCorpus(pages: 5)
        let region = TestMemory(byteCount: workload.sizeBytes)
        try workload.fill(region.base, corpus: UnsafeRawBufferPointer(corpus.bytes))
        _ = workload.touch(region.base)
        let writes = workload.writeModel()
        region.bytes[100 * 4096 + 17] &+= 1
        region.bytes[200 * 4096 + 4095] ^= 0x80
        let verification = try workload.verify(UnsafeRawPointer(region.base), corpus: UnsafeRawBufferPointer(corpus.bytes), writes: writes)
        #expect(verification.mismatches == 2)
        #expect(verification.firstMismatch == 100)
        #expect(!verification.verified)
    }

    @Test func aLostWriteIsCountedAsAMismatch() throws {
        let workload = try SwapWorkload(sizeBytes: 1 << 20, touches: 2000, writePercent: 100, zipf: 0, threads: 1)
        let corpus = syntheticCorpus(pages: 3)
        let region = TestMemory(byteCount: workload.sizeBytes)
        try workload.fill(region.base, corpus: UnsafeRawBufferPointer(corpus.bytes))
        _ = workload.touch(region.base)
        // Put one written page back to its corpus contents: its writes are lost.
        let writes = workload.writeModel()
        let page = Int(writes[0] >> 12)
        (region.base + page * 4096).copyMemory(from: corpus.base + (page % 3) * 4096, byteCount: 4096)
        let verification = try workload.verify(UnsafeRawPointer(region.base), corpus: UnsafeRawBufferPointer(corpus.bytes), writes: writes)
        #expect(verification.mismatches == 1)
        #expect(verification.firstMismatch == page)
    }

    @Test func fillCyclesTheCorpusPages() throws {
        let workload = try SwapWorkload(sizeBytes: 64 * 4096, touches: 0, writePercent: 0, zipf: 0)
        let corpus = syntheticCorpus(pages: 7)
        let region = TestMemory(byteCount: workload.sizeBytes)
        var lastProgress = 0
        try workload.fill(region.base, corpus: UnsafeRawBufferPointer(corpus.bytes)) { lastProgress = $0 }
        #expect(lastProgress == 64)
        for page in [0, 6, 7, 50, 63] {
            #expect(memcmpBytes(region.base + page * 4096, corpus.base + (page % 7) * 4096) == true)
        }
    }

    @Test func touchesAreSplitBetweenThreads() throws {
        let workload = try SwapWorkload(sizeBytes: 4096 * 16, touches: 10, writePercent: 0, zipf: 0, threads: 3)
        #expect((0..<3).map { workload.touches(ofThread: $0) } == [4, 3, 3])
    }

    @Test(arguments: [
        (4095, 10, 0, 0.0, 1), (0, 10, 0, 0.0, 1), (4096, -1, 0, 0.0, 1), (4096, 10, 101, 0.0, 1),
        (4096, 10, 0, -1.0, 1), (4096, 10, 0, Double.nan, 1), (4096, 10, 0, 0.0, 0),
    ])
    func badParametersAreRejected(size: Int, touches: Int, writePercent: Int, zipf: Double, threads: Int) {
        #expect(throws: SwapWorkloadError.self) {
            _ = try SwapWorkload(sizeBytes: size, touches: touches, writePercent: writePercent, zipf: zipf, threads: threads)
        }
    }

    @Test func anEmptyCorpusIsRejectedAndTheRegionLeftAlone() throws {
        let workload = try SwapWorkload(sizeBytes: 4096, touches: 1, writePercent: 0, zipf: 0)
        let region = TestMemory(byteCount: 4096)
        region.bytes.initializeMemory(as: UInt8.self, repeating: 0xAB)
        let tiny = TestMemory(byteCount: 100)
        #expect(throws: SwapWorkloadError.self) {
            try workload.fill(region.base, corpus: UnsafeRawBufferPointer(tiny.bytes))
        }
        #expect(region.bytes.allSatisfy { $0 == 0xAB })
    }
}

private func memcmpBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> Bool {
    UnsafeRawBufferPointer(start: a, count: 4096).elementsEqual(UnsafeRawBufferPointer(start: b, count: 4096))
}
