import PageStore
import SecondTier
import SystemSupport
import ZRAM
import ZSwap

extension BenchBackend {
    /// A ZramDevice of `sizeBytes` that writes idle slots back to `tier` automatically once
    /// `mem_used_total` reaches the pool limit (down to 90% of it), as with `--writeback FILE`.
    /// The backend closes the tier.
    public static func zram(
        sizeBytes: Int, memLimitBytes: Int?, tier: OpenedTier, poolLimit: PoolLimit?
    ) throws -> BenchBackend {
        var configuration = ZramConfiguration(disksize: sizeBytes)
        if let memLimitBytes { configuration.memLimit = memLimitBytes }
        let asked = poolLimit ?? .percentOfRAM(1)
        let high = asked.bytes(memTotal: MemInfo.totalBytes())
        tier.configureWriteback(of: &configuration, highWatermark: high)
        let device: ZramDevice
        do { device = try ZramDevice(configuration) } catch {
            _ = try? tier.close()
            throw error
        }
        var backend = BenchBackend(
            backend: device, file: nil,
            label: "ZramDevice lz4, automatic writeback of idle slots above \(high >> 20) MiB (\(asked)) to the \(tier.label)",
            poolLimitBytes: high, zram: device, cache: nil)
        backend.tier = tier
        return backend
    }

    /// A FrontswapCache (lz4) of `sizeBytes` worth of slots that writes back to `tier`. The
    /// backend closes the tier.
    public static func zswap(
        sizeBytes: Int, tier: OpenedTier, poolLimit: PoolLimit,
        limitPolicy: FrontswapConfiguration.LimitPolicy = .rejectNewest
    ) throws(BenchBackendError) -> BenchBackend {
        var configuration = FrontswapConfiguration(slotCount: sizeBytes / 4096)
        configuration.limitPolicy = limitPolicy
        configuration.poolLimit = poolLimit
        tier.configureWriteback(of: &configuration)
        let cache: FrontswapCache
        do { cache = try FrontswapCache(configuration, tier: tier.tier, memTotal: MemInfo.totalBytes()) } catch {
            _ = try? tier.close()
            throw .cache(error)
        }
        var backend = BenchBackend(
            backend: cache, file: nil,
            label: "FrontswapCache lz4, pool limit \(poolLimit) = \(cache.poolLimitBytes >> 20) MiB, \(tier.label)",
            poolLimitBytes: cache.poolLimitBytes, zram: nil, cache: cache)
        backend.tier = tier
        return backend
    }
}
