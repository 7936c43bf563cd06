import Synchronization
import SystemPackage
import SystemSupport

/// The kernel's swap for one measurement, page-cluster 0, and a memory cgroup limited to the
/// resident size: set up by
/// ``start(sizeBytes:limitBytes:backing:root:cgroupRoot:registry:isRoot:swapDirectory:swapSwitch:)``,
/// used by ``runChild(executable:arguments:)``, put back by ``restore()``.
///
/// The swap is zram0 (lz4) for ``KernelSwapBacking/zram``, or for
/// ``KernelSwapBacking/zswap(maxPoolPercent:)`` the kernel's zswap (enabled, max_pool_percent
/// set, lz4 when the crypto API has it, else the compressor as found) in front of a fresh swap
/// file of twice `sizeBytes` in /var/tmp.
///
/// Each change registers its undo in the cleanup registry right after it is made, so SIGINT,
/// SIGTERM or exit put the machine back too (newest first: kill the child, remove the cgroup,
/// restore page-cluster, then zram's swapoff and zram0 reset, or zswap's enabled,
/// max_pool_percent and compressor, swapoff and removing the swap file). A zram0 in use
/// (disksize set, swap, mounted, held) is never touched; nothing is changed while another swap
/// is on.
public final class KernelSwapSession: Sendable {
    /// What the kernel swaps to.
    public let backing: KernelSwapBacking
    /// The zram device used as swap (``KernelSwapBacking/zram`` only).
    public let zram: KernelZramSession?
    /// How zswap and its swap file were set up (``KernelSwapBacking/zswap(maxPoolPercent:)`` only).
    public let zswap: KernelZswapSetup?
    /// The cgroup the child runs in.
    public let cgroup: MemoryCgroup
    /// The size of the region the workload swaps (zram0's disksize; half the zswap swap file), bytes.
    public let sizeBytes: Int
    /// The cgroup's memory limit, bytes.
    public let limitBytes: Int
    /// /proc/sys/vm/page-cluster as found.
    public let originalPageCluster: String

    let root: SystemRoot
    let registry: CleanupRegistry
    let swapSwitch: SwapSwitch
    /// The undo actions this session registered, oldest first.
    let tokens = Mutex<[CleanupToken]>([])
    /// The running child's pid (0: none).
    let child = Mutex<pid_t>(0)
    /// zswap's vmstat counters once everything was set up.
    let countersAtStart = Mutex<KernelZswapCounters?>(nil)

    private init(
        backing: KernelSwapBacking, zram: KernelZramSession?, zswap: KernelZswapSetup?, cgroup: MemoryCgroup,
        sizeBytes: Int, limitBytes: Int, originalPageCluster: String, root: SystemRoot, registry: CleanupRegistry,
        swapSwitch: SwapSwitch
    ) {
        self.backing = backing
        self.zram = zram
        self.zswap = zswap
        self.cgroup = cgroup
        self.sizeBytes = sizeBytes
        self.limitBytes = limitBytes
        self.originalPageCluster = originalPageCluster
        self.root = root
        self.registry = registry
        self.swapSwitch = swapSwitch
    }

    /// Why the measurement with `backing` cannot run here (nil: it can), without changing
    /// anything: not root, no cgroup v1 memory controller, another swap on, then for zram no
    /// usable zram0 with lz4, for zswap no zswap, a parameter not settable, or a compressor the
    /// crypto API lacks.
    public static func unavailableReason(
        backing: KernelSwapBacking = .zram, root: SystemRoot = .live, cgroupRoot: String = MemoryCgroup.defaultRoot,
        isRoot: Bool = geteuid() == 0
    ) -> String? {
        switch backing {
        case .zram:
            guard isRoot else { return "not root: swapon, zram0 and memory cgroups need root" }
        case .zswap:
            guard isRoot else { return "not root: swapon, zswap's parameters and memory cgroups need root" }
        }
        if let reason = MemoryCgroup.unavailableReason(root: cgroupRoot) { return reason }
        let swaps = SwapSystemCalls.activeSwaps(root: root)
        if !swaps.isEmpty {
            let only = backing == .zram ? "zram0" : "the swap file"
            return "swap already active (\(swaps.joined(separator: ", "))): \(only) would not be the only swap"
        }
        guard case .zram = backing else { return ZswapParameters(root: root).unavailableReason() }
        let device = KernelZramDevice(name: "zram0", root: root)
        guard Sysfs.exists(device.directory) else { return "no /dev/zram0 (modprobe zram)" }
        do {
            let reasons = try device.inUseReasons()
            if !reasons.isEmpty { return "zram0 is in use (\(reasons.joined(separator: "; ")))" }
            guard try device.algorithms().available.contains("lz4") else { return "zram0 does not offer lz4" }
        } catch {
            return error.description
        }
        return nil
    }

    /// Sets up the kernel's swap for a region of `sizeBytes` (see ``KernelSwapBacking``),
    /// page-cluster 0, and cgroup `uswap-bench-<pid>` limited to `limitBytes`; undoes what it
    /// did if a step fails.
    ///
    /// - Parameters:
    ///   - sizeBytes: the region the workload swaps (a positive multiple of 4096).
    ///   - limitBytes: the cgroup's memory limit.
    ///   - backing: zram0, or zswap in front of a swap file of `2 * sizeBytes` in `swapDirectory`.
    ///   - root: where the kernel's files are (the live machine unless a test injects a tree).
    ///   - cgroupRoot: the cgroup v1 memory controller's mount point.
    ///   - registry: where each change registers its undo (the signal handlers' by default).
    ///   - isRoot: whether the process may change the machine.
    ///   - swapDirectory: where zswap's swap file goes (nil: `root`'s /var/tmp).
    ///   - swapSwitch: swapon/swapoff (the real system calls unless a test injects a spy).
    /// - Throws: ``KernelSwapError/unavailable(_:)`` when the machine does not allow it (nothing
    ///   changed), ``KernelSwapError/failed(_:)`` when a step failed (everything put back).
    public static func start(
        sizeBytes: Int, limitBytes: Int, backing: KernelSwapBacking = .zram, root: SystemRoot = .live,
        cgroupRoot: String = MemoryCgroup.defaultRoot, registry: CleanupRegistry = SignalCleanup.shared,
        isRoot: Bool = geteuid() == 0, swapDirectory: String? = nil, swapSwitch: SwapSwitch = .live
    ) throws(KernelSwapError) -> KernelSwapSession {
        if let reason = unavailableReason(backing: backing, root: root, cgroupRoot: cgroupRoot, isRoot: isRoot) {
            throw .unavailable(reason)
        }
        guard sizeBytes > 0, sizeBytes % 4096 == 0 else { throw .failed("swap size \(sizeBytes) is not a positive multiple of 4096") }
        if case .zswap(let percent) = backing, !(1...100).contains(percent) {
            throw .failed("zswap's max_pool_percent must be 1...100, got \(percent)")
        }
        if registry === SignalCleanup.shared { SignalCleanup.installHandlers() }
        let cgroup = try MemoryCgroup(root: cgroupRoot, name: MemoryCgroup.benchName(pid: getpid()))
        if cgroup.exists { throw .unavailable("\(cgroup.path) already exists") }
        let pageClusterPath = root.path("/proc/sys/vm/page-cluster")
        guard let pageCluster = Sysfs.readValue(pageClusterPath), Int(pageCluster) != nil else {
            throw .unavailable("cannot read \(pageClusterPath)")
        }
        let session: KernelSwapSession
        switch backing {
        case .zram:
            let zram: KernelZramSession
            do {
                zram = try KernelZramSession.acquire("zram0", root: root, registry: registry)
            } catch {
                throw .unavailable(error.description)
            }
            session = KernelSwapSession(
                backing: backing, zram: zram, zswap: nil, cgroup: cgroup, sizeBytes: sizeBytes, limitBytes: limitBytes,
                originalPageCluster: pageCluster, root: root, registry: registry, swapSwitch: swapSwitch)
        case .zswap(let percent):
            let setup = try zswapSetup(
                sizeBytes: sizeBytes, maxPoolPercent: percent, root: root,
                directory: swapDirectory ?? root.path(SwapFile.defaultDirectory))
            session = KernelSwapSession(
                backing: backing, zram: nil, zswap: setup, cgroup: cgroup, sizeBytes: sizeBytes, limitBytes: limitBytes,
                originalPageCluster: pageCluster, root: root, registry: registry, swapSwitch: swapSwitch)
        }
        do throws(KernelSwapError) {
            if let zram = session.zram {
                try session.startZram(zram)
            } else if let setup = session.zswap {
                try session.startZswap(setup)
            }
            session.remember(registry.register("page-cluster \(pageCluster)") {
                do { try writeValue(pageCluster, to: pageClusterPath) } catch { StandardError.line("uswap: \(error)") }
            })
            try writeValue("0", to: pageClusterPath)
            try cgroup.create(limitBytes: limitBytes)
            session.remember(registry.register("cgroup \(cgroup.path)") {
                do { try cgroup.remove() } catch { StandardError.line("uswap: \(error)") }
            })
            if session.zswap != nil {
                let counters = try KernelZswapCounters.read(root: root)
                session.countersAtStart.withLock { $0 = counters }
            }
        } catch {
            try? session.restore()
            throw error
        }
        return session
    }

    /// zram0: lz4, disksize ``sizeBytes``, swap header, swapon (undo registered).
    func startZram(_ zram: KernelZramSession) throws(KernelSwapError) {
        do {
            try zram.configure(algorithm: "lz4", disksize: sizeBytes)
        } catch {
            throw .failed("configuring zram0: \(error.description)")
        }
        let devicePath = zram.device.devicePath
        try SwapHeader.write(to: devicePath, totalBytes: sizeBytes)
        try swapOn(devicePath)
    }

    /// swapon `path`, then registers its swapoff.
    func swapOn(_ path: String) throws(KernelSwapError) {
        if let error = swapSwitch.on(path) { throw error }
        let swapSwitch = self.swapSwitch
        remember(registry.register("swapoff \(path)") {
            if let error = swapSwitch.off(path) { StandardError.line("uswap: \(error)") }
        })
    }

    func remember(_ token: CleanupToken) {
        tokens.withLock { $0.append(token) }
    }

    /// Puts everything back (cgroup, page-cluster, then zram's swap and zram0, or zswap's
    /// parameters, swap and swap file), each step once; safe to call more than once.
    public func restore() throws(KernelSwapError) {
        let mine = tokens.withLock { tokens in
            defer { tokens.removeAll() }
            return tokens
        }
        for token in mine.reversed() { registry.run(token) }
        if let zram {
            do {
                try zram.restore()
            } catch {
                throw .restoreFailed(error.description)
            }
        }
        let problems = leftovers()
        if !problems.isEmpty { throw .restoreFailed(problems.joined(separator: "; ")) }
    }

    /// What this session left changed; empty when the machine is as it was found.
    public func leftovers() -> [String] {
        guard let zswap else { return Self.leftovers(root: root, cgroup: cgroup, pageCluster: originalPageCluster) }
        return Self.zswapLeftovers(root: root, cgroup: cgroup, pageCluster: originalPageCluster, setup: zswap)
    }

    /// What is not as it was: swap still on, zram0 initialised, the cgroup still there,
    /// page-cluster changed. Empty when the machine is restored.
    public static func leftovers(root: SystemRoot = .live, cgroup: MemoryCgroup, pageCluster: String) -> [String] {
        var problems: [String] = []
        let swaps = SwapSystemCalls.activeSwaps(root: root)
        if !swaps.isEmpty { problems.append("swap still on: \(swaps.joined(separator: ", "))") }
        let disksize = (try? KernelZramDevice(name: "zram0", root: root).disksize()) ?? -1
        if disksize != 0 { problems.append("zram0 disksize is \(disksize), not 0") }
        if cgroup.exists { problems.append("\(cgroup.path) still exists") }
        let now = Sysfs.readValue(root.path("/proc/sys/vm/page-cluster")) ?? "?"
        if now != pageCluster { problems.append("page-cluster is \(now), was \(pageCluster)") }
        return problems
    }

    /// The running `uswap` binary (resolved /proc/self/exe).
    public static func currentExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return "/proc/self/exe" }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
