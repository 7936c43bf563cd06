import PageStore
import ZRAM
import ZSwap

extension OpenedTier {
    /// Makes `configuration`'s device write back to this tier: the tier as its backing device,
    /// and automatic writeback of idle slots once `mem_used_total` reaches `highWatermark`
    /// bytes, down to 90% of it, in batches of ``writebackBatchSize(fileBatch:)``. What
    /// `bench swap --backend zram --tier` and `uswap run --backend zram --tier` both set.
    public func configureWriteback(of configuration: inout ZramConfiguration, highWatermark: Int) {
        let batch = writebackBatchSize(fileBatch: ZramAutomaticWriteback(highWatermark: 1, lowWatermark: 0).batchSize)
        configuration.backingDevice = ZramBackingDevice(tier: tier, batchSize: batch)
        configuration.automaticWriteback = ZramAutomaticWriteback(
            highWatermark: highWatermark, lowWatermark: highWatermark / 10 * 9, batchSize: batch)
    }

    /// Makes `configuration`'s cache write back to this tier in batches of
    /// ``writebackBatchSize(fileBatch:)`` (the tier decides about punching its blocks).
    public func configureWriteback(of configuration: inout FrontswapConfiguration) {
        configuration.punchFreedBlocks = false
        configuration.writebackBatch = writebackBatchSize(fileBatch: configuration.writebackBatch)
    }
}
