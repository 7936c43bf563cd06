import Testing
@testable import Swap

/// The tuning values stay inside the limits of the structures they size.
@Suite struct SwapTuningTests {
    @Test(arguments: [16, 64, 1024, 65_536, 1 << 24])
    func stagingFitsTheSwapCacheAndIsASmallPartOfTheLimit(limitPages: Int) {
        let slots = SwapTuning.stagingSlots(limitPages: limitPages)
        #expect(slots >= 4 && slots <= SwapTuning.maximumStagingSlots)
        #expect(slots <= max(4, limitPages / 16))
        let batch = SwapTuning.stagingBatch(stagingSlots: slots)
        #expect(batch >= 1 && batch <= slots)
    }

    @Test(arguments: [16, 64, 1024, 65_536])
    func watermarksStayBelowTheLimit(limitPages: Int) {
        let gap = SwapTuning.watermarkGap(limitPages: limitPages)
        #expect(gap >= 2 && gap <= 256)
        let (high, low) = SwapTuning.watermarks(limitPages: limitPages)
        #expect(low >= 1 && low <= high && high < limitPages)
    }

    @Test func queuesFitTheirBitmaps() {
        #expect(SwapTuning.swapCacheFrames <= 64)
        #expect(SwapTuning.fileReadRequests <= SwapTuning.maximumFileReadRequests)
        #expect(SwapTuning.fileReadRequests <= SwapTuning.swapCacheFrames / 2, "reads in flight leave frames for other faults")
        #expect(SwapTuning.refaultCredit <= PageState.maximumCredit)
    }
}
