import PageStore
import SystemSupport
import Workloads
import ZRAM
import ZSwap

/// One round's backend, its backing file and the three fault layers in front of the file.
///
/// The layers, outermost first (the backend calls the outermost):
/// - ``permanent``: a permanent read fault on the block of the page a check put aside, removed
///   (`clearFaults()`) as soon as the check is done, so it never shadows or is shadowed by the
///   others;
/// - ``transient``: read faults that each sit on one block for a bounded number of reads,
///   single write faults, a file that is always full, failed hole punches;
/// - ``delays``: slow calls (a delay rule matches every call, so it lives on a layer of its own
///   where it cannot hide an error rule).
///
/// **Ownership.** The round owns this object; it owns the file (closed and removed by
/// ``close()``) and the backend. Not shared between threads except through the backend and
/// the layers, which are thread-safe.
final class RoundBackend: @unchecked Sendable {
    // @unchecked Sendable: every stored property is a let of a thread-safe type; the tier
    // thread and the checker use them concurrently only through their own synchronization.

    /// The plan's backend kind.
    let kind: SoakBackend
    /// What the region writes to.
    let backend: any SwapBackend
    /// The device, for zram kinds.
    let zram: ZramDevice?
    /// The cache, for zswap.
    let cache: FrontswapCache?
    /// The real file, when there is one.
    let file: BackingFile?
    /// The outermost layer: permanent faults of the checks.
    let permanent: FaultInjectingBackingFile?
    /// The middle layer: transient and whole-round faults.
    let transient: FaultInjectingBackingFile?
    /// The innermost layer: delays.
    let delays: FaultInjectingBackingFile?
    let pageSize: Int

    /// The backend `plan` asks for, with its file in `directory`.
    init(plan: SoakRoundPlan, directory: String, pageSize: Int) throws(SoakError) {
        kind = plan.backend
        self.pageSize = pageSize
        let slots = plan.regionPages * 2
        if plan.backend.hasFile {
            let blocks = plan.backend == .zswapFile ? slots : plan.fileBlocks
            let made: BackingFile
            do {
                made = try BackingFile.temporary(in: directory, prefix: "uswap-soak", pageSize: pageSize, blockCount: blocks)
            } catch {
                throw .backingFile(directory: directory, error)
            }
            let delays = FaultInjectingBackingFile(wrapping: made)
            let transient = FaultInjectingBackingFile(wrapping: delays)
            let permanent = FaultInjectingBackingFile(wrapping: transient)
            (file, self.delays, self.transient, self.permanent) = (made, delays, transient, permanent)
        } else {
            (file, delays, transient, permanent) = (nil, nil, nil, nil)
        }
        do {
            switch plan.backend {
            case .zram, .zramWriteback:
                var configuration = ZramConfiguration(disksize: slots * pageSize, pageSize: pageSize)
                if let permanent {
                    var device = ZramBackingDevice(file: permanent, blockCount: plan.fileBlocks, checksums: plan.checksums)
                    device.punchFreedBlocks = true
                    configuration.backingDevice = device
                    if plan.poolPages > 0 {
                        configuration.automaticWriteback = ZramAutomaticWriteback(
                            highWatermark: plan.poolPages * pageSize, lowWatermark: plan.poolPages * pageSize * 3 / 4, batchSize: 16)
                    }
                }
                let device = try ZramDevice(configuration)
                (zram, cache, backend) = (device, nil, device)
            case .zswapFile:
                var configuration = FrontswapConfiguration(
                    slotCount: slots, pageSize: pageSize, poolLimit: .bytes(max(plan.poolPages, 2) * pageSize))
                configuration.checksums = plan.checksums
                configuration.limitPolicy = plan.zswapLimitPolicy
                configuration.writebackBatch = 8
                let made = try FrontswapCache(configuration, file: permanent!)
                (zram, cache, backend) = (nil, made, made)
            }
        } catch {
            file?.close()
            throw .setup(round: plan.index, "the \(plan.backend.rawValue) backend: \(error)")
        }
    }

    /// The file block holding `slot`'s page now, or nil when the page is not in the file (a
    /// racy answer while other threads use the slot).
    func block(holding slot: Int) -> Int? {
        if let zram { return (try? zram.writtenBackBlock(of: slot)) ?? nil }
        // The cache's file tier puts an object in its lowest free block, not at the slot's index.
        if let cache { return cache.fileBlock(of: slot) }
        return nil
    }

    /// Moves `slot`'s page to the file if it is not there (zram: writeback of that slot; zswap:
    /// writeback from the LRU tail until it is reached). Returns its block, or nil when it could
    /// not be moved (the file full or failing, the slot busy).
    func pushToFile(slot: Int) -> Int? {
        if let block = block(holding: slot) { return block }
        if let zram {
            _ = try? zram.writeback(.slot(slot))
        } else if let cache {
            var attempts = 0
            while cache.location(of: slot) == .pool && attempts < 4 * cache.slotCount / 8 + 4 {
                if cache.writeBack(count: 8) == 0 { break }
                attempts += 1
            }
        }
        return block(holding: slot)
    }

    /// Whether `slot`'s page is still in `block` of the file (nothing freed it).
    func holds(slot: Int, block: Int) -> Bool {
        self.block(holding: slot) == block
    }

    /// One step of the tier's own work, as a reclaim daemon would do it: zram marks every slot
    /// idle, writes some back and compacts; zswap shrinks and compacts. Returns the typed
    /// errors it got (a full or failing file, the writeback limit), or throws a description of
    /// an error no fault explains.
    func tierStep(_ random: inout SplitMix64) -> (operations: Int, typedErrors: Int) {
        var errors = 0
        var operations = 1
        if let zram {
            switch random.next() % 8 {
            case 0:
                zram.compact()
            case 1, 2:
                zram.markIdle(.all)
            default:
                guard zram.hasBackingDevice else {
                    zram.markIdle(.all)
                    break
                }
                let limited = random.next() % 4 == 0
                if limited {
                    zram.writebackLimit = Int(random.next() % 8)
                    zram.writebackLimitEnabled = true
                }
                do {
                    operations += try zram.writeback(random.next() % 3 == 0 ? .huge : .idle, maxPages: 1 + Int(random.next() % 24))
                } catch {
                    errors += 1
                }
                if limited { zram.writebackLimitEnabled = false }
            }
        } else if let cache {
            if random.next() % 4 == 0 {
                cache.compact()
            } else {
                operations += cache.shrink(maxPages: 1 + Int(random.next() % 24))
            }
        }
        return (operations, errors)
    }

    /// Faults injected so far, by kind: read faults, write faults, delays, punches.
    var injected: (reads: Int, writes: Int, delays: Int, punches: Int) {
        guard let permanent, let transient, let delays else { return (0, 0, 0, 0) }
        let reads = permanent.injectedFaults(.read) + transient.injectedFaults(.read)
        let writes = transient.injectedFaults(.write)
        let slow = delays.injectedFaults(.read) + delays.injectedFaults(.write)
        return (reads, writes, slow, transient.injectedFaults(.punch))
    }

    /// Removes every fault from every layer.
    func clearFaults() {
        permanent?.clearFaults()
        transient?.clearFaults()
        delays?.clearFaults()
    }

    /// What the backend still holds after its region closed, described (empty: nothing): stored
    /// pages, pool bytes, written-back blocks, pages in the file.
    func leftovers() -> [String] {
        var found: [String] = []
        if let zram {
            let mm = zram.mmStat
            if mm.origDataSize != 0 { found.append("zram holds \(mm.origDataSize / pageSize) pages") }
            if mm.memUsedTotal != 0 { found.append("zram's pool holds \(mm.memUsedTotal) bytes") }
            if zram.bdStat.count != 0 { found.append("zram has \(zram.bdStat.count) written-back blocks") }
        }
        if let cache {
            let s = cache.frontswapStatistics
            if s.storedPages != 0 { found.append("the frontswap pool holds \(s.storedPages) pages") }
            if s.poolTotalSize != 0 { found.append("the frontswap pool holds \(s.poolTotalSize) bytes") }
            if s.pagesInFile != 0 { found.append("the frontswap file holds \(s.pagesInFile) pages") }
        }
        return found
    }

    /// After the region closed: frees the copies the backend kept because a free notification
    /// found their slot locked (`miss_free`: zram's rule, which the frontswap cache follows too;
    /// such a copy stays until its slot is written again or discarded, and a closed region
    /// writes no slot again), by discarding every slot, as a reset would. Returns the pages that
    /// freed and the backend's `miss_free` count; nil (and nothing discarded) when no
    /// notification missed, so that any leftover then is a leak.
    func freeMissedCopies() -> (pages: Int, missFree: Int)? {
        let missFree: Int
        let held: () -> Int  // pages the backend holds: zram's stored pages, the cache's pool and file
        if let zram {
            missFree = zram.debugStat.missFree
            held = { zram.statistics.storedPages }
        } else if let cache {
            missFree = cache.frontswapStatistics.missFree
            held = { let s = cache.frontswapStatistics; return s.storedPages + s.pagesInFile }
        } else {
            return nil
        }
        guard missFree > 0 else { return nil }
        let before = held()
        for slot in 0..<backend.slotCount { backend.discard(slot) }
        return (before - held(), missFree)
    }

    /// Debug builds: the backend's own invariants (no operation may run).
    func checkInvariants() {
        #if DEBUG
        zram?.checkInvariants()
        cache?.checkInvariants()
        #endif
    }

    /// Closes and removes the file.
    func close() {
        file?.close()
    }
}
