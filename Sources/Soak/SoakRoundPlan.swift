import PageStore
import Swap
import Workloads
import ZSwap

/// Where a soak round's region puts its cold pages.
public enum SoakBackend: String, Sendable, CaseIterable, Codable {
    /// An in-process `ZRAM.ZramDevice`, memory only.
    case zram
    /// A `ZSwap.FrontswapCache` over a backing file (a small pool, so pages reach the file).
    case zswapFile = "zswap+file"
    /// A `ZRAM.ZramDevice` with a backing file, written back explicitly and automatically.
    case zramWriteback = "zram+writeback"

    /// Whether the backend has a file tier (faults can be injected into it).
    public var hasFile: Bool { self != .zram }
}

/// The faults one soak round injects into its backend's file.
///
/// Transient faults are the ones a region must absorb: each read fault sits on one block for
/// at most ``SoakRoundPlan/readRetries`` reads (the region's retries outlast it), each write
/// fault hits one write (the eviction or writeback is abandoned and tried again later). The
/// permanent ones may only end in a typed error or in a failed fault that freed nothing.
public struct SoakFaultPlan: Sendable, Equatable {
    /// Which kinds of read fault the round injects (transient, and in the permanent checks).
    public enum ReadFault: String, Sendable, CaseIterable, Codable {
        /// The read fails with EIO.
        case eio
        /// The read comes back half a page short (EIO).
        case short
        /// The read succeeds with one byte flipped: only with checksums, which catch it.
        case corrupt
    }

    /// Read faults injected on blocks that hold pages (empty: none).
    public var readFaults: [ReadFault] = []
    /// Writes failed once each (ENOSPC, EIO, a torn half page), about one in this many (0: none).
    public var writeFaultEvery = 0
    /// Every write to the file fails with ENOSPC (a full file) for the whole round: only with a
    /// pool that holds every page, so evictions never need the file.
    public var fileAlwaysFull = false
    /// Every read sleeps this long first (slow I/O; 0: none).
    public var readDelayMicroseconds = 0
    /// Every write sleeps this long first (0: none).
    public var writeDelayMicroseconds = 0
    /// Hole punches fail (EIO): counted by the backend, never thrown.
    public var punchFailures = false
    /// Pages put aside in the file get permanent read faults, then are checked: the failed
    /// swap-in must be a typed error that freed nothing, and the page must come back once the
    /// fault is gone.
    public var permanentReadChecks = false

    /// No faults.
    public init() {}

    /// `eio+short write/1:40 full delay:r80,w0 punch permanent`, the parts that apply.
    public var summary: String {
        var parts: [String] = []
        if !readFaults.isEmpty { parts.append("reads:" + readFaults.map(\.rawValue).joined(separator: "+")) }
        if writeFaultEvery > 0 { parts.append("writes:1/\(writeFaultEvery)") }
        if fileAlwaysFull { parts.append("file-full") }
        if readDelayMicroseconds > 0 || writeDelayMicroseconds > 0 {
            parts.append("slow:r\(readDelayMicroseconds)us,w\(writeDelayMicroseconds)us")
        }
        if punchFailures { parts.append("punch-fails") }
        if permanentReadChecks { parts.append("permanent") }
        return parts.isEmpty ? "none" : parts.joined(separator: " ")
    }
}

/// Everything one soak round does, drawn from a seed: the backend, the region's policies and
/// modes, its size and resident limit, the faults, and how long its threads run.
///
/// A plan is a pure function of `(seed, index, threads, milliseconds)`, so a round that failed
/// can be run again alone (`uswap soak --seed S --round N`).
public struct SoakRoundPlan: Sendable, Equatable, CustomStringConvertible {
    /// The round's number in its soak.
    public var index: Int
    /// The seed of the round's own random choices (the workers' operations).
    public var seed: UInt64
    /// Where cold pages go.
    public var backend: SoakBackend
    /// When swapped-in copies are freed.
    public var policy: SlotPolicy
    /// Who serves faults.
    public var faultMode: SwapRegionConfiguration.FaultMode
    /// Who reads the file tier.
    public var fileReads: SwapRegionConfiguration.FileReads
    /// Where eviction runs.
    public var reclaimMode: SwapRegionConfiguration.ReclaimMode
    /// How dirty pages leave the region.
    public var evictionMethod: SwapRegionConfiguration.EvictionMethod
    /// How victims are chosen.
    public var victimSelection: SwapRegionConfiguration.VictimSelection
    /// Worker threads, each owning the pages `p` with `p % threads == t`.
    public var threads: Int
    /// Pages the workers own.
    public var workerPages: Int
    /// Pages after them that only the round's checker touches (permanent-fault checks).
    public var quarantinePages: Int
    /// The resident limit in pages.
    public var residentPages: Int
    /// Retries of a failed read.
    public var readRetries: Int
    /// The pause before each retry, in microseconds.
    public var readRetryPauseMicroseconds: Int
    /// CRC-32C on every page in the file.
    public var checksums: Bool
    /// How long the workers run, in milliseconds.
    public var milliseconds: Int
    /// zswap: the pool limit in pages; zram with writeback: the automatic writeback's high
    /// watermark in pages (0: automatic writeback off).
    public var poolPages: Int
    /// zswap: which pages leave for the file when the pool is full.
    public var zswapLimitPolicy: FrontswapConfiguration.LimitPolicy
    /// zram with writeback: blocks of the backing file (fewer than the pages: the file fills).
    public var fileBlocks: Int
    /// The faults.
    public var faults: SoakFaultPlan

    /// The region's size in pages.
    public var regionPages: Int { workerPages + quarantinePages }

    /// The region's configuration: its size, resident limit, policies, modes and retries.
    public func regionConfiguration(pageSize: Int) -> SwapRegionConfiguration {
        var configuration = SwapRegionConfiguration(
            size: regionPages * pageSize, residentLimit: residentPages * pageSize, policy: policy)
        configuration.faultMode = faultMode
        configuration.fileReads = fileReads
        configuration.reclaimMode = reclaimMode
        configuration.evictionMethod = evictionMethod
        configuration.victimSelection = victimSelection
        configuration.readRetries = readRetries
        configuration.readRetryPauseMicroseconds = readRetryPauseMicroseconds
        return configuration
    }

    /// Round `index` of a soak seeded with `seed`, with `threads` workers running for about
    /// `milliseconds`.
    public init(seed soakSeed: UInt64, index: Int, threads: Int, milliseconds: Int) {
        var random = SplitMix64(seed: SplitMix64.mix(soakSeed ^ UInt64(truncatingIfNeeded: index) &* 0xD1B5_4A32_D192_ED03))
        func pick<T>(_ choices: [T]) -> T { choices[Int(random.next() % UInt64(choices.count))] }
        func chance(_ percent: Int) -> Bool { Int(random.next() % 100) < percent }
        func range(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(random.next() % UInt64(r.count)) }

        self.index = index
        seed = random.next()
        backend = SoakBackend.allCases[index % SoakBackend.allCases.count]
        policy = pick(SlotPolicy.allCases)
        faultMode = pick(SwapRegionConfiguration.FaultMode.allCases)
        fileReads = backend.hasFile && chance(50) ? .ioThreads(range(1...3)) : .inline
        reclaimMode = chance(30) ? .background : .inFault
        evictionMethod = chance(35) ? .writeProtect : .move
        victimSelection = chance(25) ? .fifo : .clock
        self.threads = max(1, threads)
        residentPages = pick([16, 16, 24, 32, 48, 64])
        workerPages = max(self.threads * 4, residentPages * range(2...8))
        quarantinePages = backend.hasFile ? range(2...4) : 0
        readRetries = range(2...5)
        readRetryPauseMicroseconds = pick([0, 20, 100, 200])
        self.milliseconds = milliseconds
        let regionPages = workerPages + quarantinePages
        zswapLimitPolicy = chance(50) ? .writeBackOldest : .rejectNewest
        fileBlocks = chance(20) ? regionPages / 2 : regionPages * 2

        var faults = SoakFaultPlan()
        if backend.hasFile {
            checksums = chance(85)
            faults.fileAlwaysFull = chance(10)
            poolPages = switch backend {
            // The whole region fits when the file is always full; otherwise a small pool.
            case .zswapFile: faults.fileAlwaysFull ? regionPages * 2 : max(8, regionPages / range(3...8))
            default: chance(60) ? max(8, regionPages / range(3...6)) : 0
            }
            if chance(80) {
                var kinds: [SoakFaultPlan.ReadFault] = [.eio, .short]
                if checksums { kinds.append(.corrupt) }
                faults.readFaults = kinds.filter { _ in chance(70) }
                if faults.readFaults.isEmpty { faults.readFaults = [pick(kinds)] }
            }
            if !faults.fileAlwaysFull && chance(50) { faults.writeFaultEvery = pick([8, 20, 50]) }
            if chance(30) {
                faults.readDelayMicroseconds = pick([0, 50, 200, 1000])
                faults.writeDelayMicroseconds = pick([0, 50, 300])
            }
            faults.punchFailures = chance(15)
            faults.permanentReadChecks = chance(75)
        } else {
            checksums = false
            poolPages = 0
        }
        self.faults = faults
    }

    /// One line: `#12 zswap+file lazy signal io-threads:2 move/clock in-fault 4x96+3p r16 retries 3 faults: ...`.
    public var description: String {
        "#\(index) \(backend.rawValue) \(policy.rawValue) \(faultMode.rawValue) \(fileReads) "
            + "\(evictionMethod.rawValue)/\(victimSelection.rawValue) \(reclaimMode.rawValue) "
            + "\(threads)x\(workerPages)+\(quarantinePages)p resident \(residentPages) "
            + "retries \(readRetries) checksums \(checksums ? "on" : "off") pool \(poolPages) file \(fileBlocks) "
            + "faults: \(faults.summary)"
    }
}
