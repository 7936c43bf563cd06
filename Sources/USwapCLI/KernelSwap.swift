#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

// The kernel side of `uswap bench swap --vs-kernel` and `uswap demo`: the same workload on plain
// anonymous memory, in a memory cgroup whose limit is the resident size, with the kernel's zram0
// (lz4, page-cluster 0) as the only swap, the way ../shared/tools/kswap.sh measures it, done by
// the CLI itself (no mkswap, no swapon binary, no shell): a child `uswap` process joins the
// cgroup and runs the workload; the parent puts everything back.

/// Why the kernel's swap could not be measured, or what went wrong while measuring it.
enum KernelSwapError: Error, Equatable, CustomStringConvertible {
    /// The machine does not allow the measurement (not root, no zram0, zram0 in use, no cgroup
    /// v1 memory controller, another swap active); nothing was changed.
    case unavailable(String)
    /// A step failed; the message says which, and everything changed so far was put back.
    case failed(String)
    /// Putting the machine back failed: the message says what is left to undo by hand.
    case restoreFailed(String)

    var description: String {
        switch self {
        case .unavailable(let reason): reason
        case .failed(let message): message
        case .restoreFailed(let message): "could not restore the machine: \(message)"
        }
    }
}

// MARK: - Memory cgroup (v1)

/// One memory cgroup of the cgroup v1 memory controller: `<root>/<name>`.
///
/// `root` is injectable so tests can exercise the path logic in a temporary directory.
struct MemoryCgroup: Sendable, Equatable {
    /// Where the v1 memory controller is mounted on a live machine.
    static let defaultRoot = "/sys/fs/cgroup/memory"

    /// The controller's mount point.
    let root: String
    /// The cgroup's directory name (one path component).
    let name: String

    /// The benchmark's cgroup name for process `pid`: `uswap-bench-<pid>`.
    static func benchName(pid: Int32) -> String { "uswap-bench-\(pid)" }

    /// A cgroup `name` under `root`; `name` must be a single, ordinary path component.
    init(root: String = MemoryCgroup.defaultRoot, name: String) throws(KernelSwapError) {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.contains("\0") else {
            throw .failed("cgroup name \"\(name)\" is not a single path component")
        }
        var trimmedRoot = root
        while trimmedRoot.count > 1 && trimmedRoot.hasSuffix("/") { trimmedRoot.removeLast() }
        self.root = trimmedRoot
        self.name = name
    }

    /// The cgroup's directory.
    var path: String { root == "/" ? "/\(name)" : "\(root)/\(name)" }
    /// The file a process id is written to, to move that process in.
    var procsPath: String { "\(path)/cgroup.procs" }
    /// The file holding the memory limit.
    var limitPath: String { "\(path)/memory.limit_in_bytes" }

    /// Why `root` is not a usable v1 memory controller, or nil when it is.
    static func unavailableReason(root: String = MemoryCgroup.defaultRoot) -> String? {
        guard access(root, F_OK) == 0 else {
            return "no cgroup v1 memory controller at \(root) (this needs the v1 hierarchy mounted)"
        }
        guard access("\(root)/memory.limit_in_bytes", F_OK) == 0, access("\(root)/cgroup.procs", F_OK) == 0 else {
            return "\(root) is not a cgroup v1 memory controller (no memory.limit_in_bytes or cgroup.procs)"
        }
        guard access(root, W_OK) == 0 else { return "\(root) is not writable (needs root)" }
        return nil
    }

    /// Whether the directory exists.
    var exists: Bool { access(path, F_OK) == 0 }

    /// Creates the cgroup and sets its limit to `limitBytes`; removes it again if the limit
    /// cannot be set.
    func create(limitBytes: Int) throws(KernelSwapError) {
        guard limitBytes > 0 else { throw .failed("a cgroup limit must be positive, got \(limitBytes)") }
        guard mkdir(path, 0o755) == 0 else { throw .failed("mkdir \(path): \(errnoText())") }
        do {
            try writeText(String(limitBytes), to: limitPath)
        } catch {
            _ = rmdir(path)
            throw error
        }
    }

    /// Moves process `pid` into the cgroup.
    func join(pid: Int32) throws(KernelSwapError) {
        try writeText(String(pid), to: procsPath)
    }

    /// Removes the (empty) cgroup, retrying for up to 2 s while the kernel still counts an
    /// exiting task in it. Nothing to do when it is already gone.
    func remove() throws(KernelSwapError) {
        var attempts = 0
        while exists {
            if rmdir(path) == 0 { return }
            let code = errno
            guard code == EBUSY, attempts < 200 else {
                if code == ENOENT { return }
                throw .restoreFailed("rmdir \(path): \(String(cString: strerror(code)))")
            }
            attempts += 1
            usleep(10_000)
        }
    }
}

// MARK: - Swap header

/// The swap area header `mkswap` writes (util-linux, version 1): page 0 of the device holds
/// `version` (1), `last_page` (pages - 1), `nr_badpages` (0) and a UUID at offset 1024, and the
/// signature "SWAPSPACE2" in its last ten bytes; everything else is zero.
enum SwapHeader {
    /// The signature at the end of page 0.
    static let signature = Array("SWAPSPACE2".utf8)
    /// Where the version field starts (after 1024 boot-block bytes).
    static let infoOffset = 1024

    /// The first page of a swap area of `totalBytes` bytes (a whole number of pages, at least
    /// 10 pages, as mkswap requires).
    static func page(totalBytes: Int, pageSize: Int = 4096, uuid: [UInt8] = Array(repeating: 0, count: 16))
        throws(KernelSwapError) -> [UInt8]
    {
        guard pageSize >= 4096, pageSize & (pageSize - 1) == 0 else {
            throw .failed("swap page size \(pageSize) is not a power of two >= 4096")
        }
        guard totalBytes % pageSize == 0, totalBytes / pageSize >= 10 else {
            throw .failed("a swap area of \(totalBytes) bytes is not a whole number of at least 10 pages")
        }
        let lastPage = totalBytes / pageSize - 1
        guard lastPage <= Int(UInt32.max) else { throw .failed("a swap area of \(totalBytes) bytes is too large") }
        guard uuid.count == 16 else { throw .failed("a swap UUID has 16 bytes, got \(uuid.count)") }
        var page = [UInt8](repeating: 0, count: pageSize)
        func put32(_ value: UInt32, at offset: Int) {
            for i in 0..<4 { page[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
        }
        put32(1, at: infoOffset)  // version
        put32(UInt32(lastPage), at: infoOffset + 4)  // last_page
        put32(0, at: infoOffset + 8)  // nr_badpages
        for i in 0..<16 { page[infoOffset + 12 + i] = uuid[i] }
        for (i, byte) in signature.enumerated() { page[pageSize - 10 + i] = byte }
        return page
    }

    /// Writes the header for `totalBytes` bytes to the start of `path` and syncs it.
    static func write(to path: String, totalBytes: Int, pageSize: Int = 4096) throws(KernelSwapError) {
        var uuid = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for i in 0..<16 { uuid[i] = UInt8.random(in: 0...255, using: &generator) }
        uuid[6] = uuid[6] & 0x0F | 0x40  // version 4
        uuid[8] = uuid[8] & 0x3F | 0x80  // variant 1
        let header = try page(totalBytes: totalBytes, pageSize: pageSize, uuid: uuid)
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .failed("open \(path) to write the swap header: \(errnoText())") }
        defer { close(fd) }
        let written = header.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        guard written == header.count else { throw .failed("write of the swap header to \(path): \(errnoText())") }
        guard fsync(fd) == 0 else { throw .failed("fsync \(path): \(errnoText())") }
    }
}

/// swapon(2) and swapoff(2): glibc has them, Swift's Glibc module does not import
/// <sys/swap.h>, so they are looked up once in the C library.
enum SwapSystemCalls {
    private typealias SwapOn = @convention(c) (UnsafePointer<CChar>?, Int32) -> Int32
    private typealias SwapOff = @convention(c) (UnsafePointer<CChar>?) -> Int32

    private static func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        let handle = dlopen(nil, RTLD_NOW)
        return dlsym(handle, name)
    }

    /// Enables swapping on `path`; throws with errno's text on failure.
    static func swapOn(_ path: String) throws(KernelSwapError) {
        guard let raw = symbol("swapon") else { throw .unavailable("the C library has no swapon") }
        let call = unsafeBitCast(raw, to: SwapOn.self)
        guard call(path, 0) == 0 else { throw .failed("swapon \(path): \(errnoText())") }
    }

    /// Disables swapping on `path`; throws with errno's text on failure.
    static func swapOff(_ path: String) throws(KernelSwapError) {
        guard let raw = symbol("swapoff") else { throw .restoreFailed("the C library has no swapoff") }
        let call = unsafeBitCast(raw, to: SwapOff.self)
        guard call(path) == 0 else { throw .restoreFailed("swapoff \(path): \(errnoText())") }
    }

    /// The devices and files listed in /proc/swaps (under `root`).
    static func activeSwaps(root: SystemRoot = .live) -> [String] {
        guard let text = try? SysfsFile.read(root.path("/proc/swaps")) else { return [] }
        return text.split(separator: "\n").dropFirst().compactMap { line in
            line.split(separator: " ", omittingEmptySubsequences: true).first.map(String.init)
        }
    }
}

// MARK: - The session

/// swapon(2)/swapoff(2) as values, so tests can run a whole session in a fake ``SystemRoot``
/// without enabling swap on the machine. Each returns nil on success or the error.
struct SwapSwitch: Sendable {
    /// Enables swapping on a path.
    var on: @Sendable (String) -> KernelSwapError?
    /// Disables swapping on a path.
    var off: @Sendable (String) -> KernelSwapError?

    /// The real system calls.
    static let live = SwapSwitch(
        on: { path in
            do throws(KernelSwapError) { try SwapSystemCalls.swapOn(path) } catch { return error }
            return nil
        },
        off: { path in
            do throws(KernelSwapError) { try SwapSystemCalls.swapOff(path) } catch { return error }
            return nil
        })
}

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
final class KernelSwapSession: Sendable {
    /// What the kernel swaps to.
    let backing: KernelSwapBacking
    /// The zram device used as swap (``KernelSwapBacking/zram`` only).
    let zram: KernelZramSession?
    /// How zswap and its swap file were set up (``KernelSwapBacking/zswap(maxPoolPercent:)`` only).
    let zswap: KernelZswapSetup?
    /// The cgroup the child runs in.
    let cgroup: MemoryCgroup
    /// The size of the region the workload swaps (zram0's disksize; half the zswap swap file), bytes.
    let sizeBytes: Int
    /// The cgroup's memory limit, bytes.
    let limitBytes: Int
    /// /proc/sys/vm/page-cluster as found.
    let originalPageCluster: String

    private let root: SystemRoot
    private let registry: CleanupRegistry
    private let swapSwitch: SwapSwitch
    private let tokens = Mutex<[CleanupToken]>([])
    private let child = Mutex<pid_t>(0)
    /// zswap's vmstat counters once everything was set up.
    private let countersAtStart = Mutex<KernelZswapCounters?>(nil)

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
    static func unavailableReason(
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
        guard SysfsFile.exists(device.directory) else { return "no /dev/zram0 (modprobe zram)" }
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
    ///   - backing: zram0, or zswap in front of a swap file of `2 * sizeBytes` in `swapDirectory`.
    ///   - root, cgroupRoot, isRoot, swapDirectory, swapSwitch: the live machine unless a test
    ///     injects a fake tree (`swapDirectory` nil means `root`'s /var/tmp).
    /// - Throws: ``KernelSwapError/unavailable(_:)`` when the machine does not allow it (nothing
    ///   changed), ``KernelSwapError/failed(_:)`` when a step failed (everything put back).
    static func start(
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
        guard let pageCluster = SysfsFile.readTrimmed(pageClusterPath), Int(pageCluster) != nil else {
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
                do { try writeText(pageCluster, to: pageClusterPath) } catch { StandardError.line("uswap: \(error)") }
            })
            try writeText("0", to: pageClusterPath)
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

    /// What zswap will be set to, from what is found (reads only): the swap file's path and
    /// size, the compressor (lz4 when the crypto API has it), the parameters to put back.
    static func zswapSetup(
        sizeBytes: Int, maxPoolPercent: Int, root: SystemRoot, directory: String
    ) throws(KernelSwapError) -> KernelZswapSetup {
        let parameters = ZswapParameters(root: root)
        let original = parameters.snapshot()
        for name in ["enabled", "compressor", "max_pool_percent"] where original[name] == nil {
            throw .unavailable("cannot read zswap's \(name) (\(parameters.path(name)))")
        }
        let found = original["compressor"] ?? ""
        let crypto = (try? SysfsFile.read(root.path("/proc/crypto"))).map(ZswapParameters.cryptoAlgorithms) ?? []
        let preferred = ZswapParameters.preferredCompressor
        let compressor = crypto.contains(preferred) ? preferred : found
        let note = compressor == preferred ? "" : "\(preferred) is not in this kernel's crypto API, so zswap compresses with \(found)"
        let bytes = 2 * sizeBytes
        if let problem = SwapFile.spaceProblem(directory: directory, bytes: bytes) { throw .unavailable(problem) }
        return KernelZswapSetup(
            swapFilePath: SwapFile.uniquePath(in: directory), swapFileBytes: bytes, compressor: compressor,
            compressorNote: note, maxPoolPercent: maxPoolPercent, original: original)
    }

    /// zram0: lz4, disksize ``sizeBytes``, swap header, swapon (undo registered).
    private func startZram(_ zram: KernelZramSession) throws(KernelSwapError) {
        do {
            try zram.configure(algorithm: "lz4", disksize: sizeBytes)
        } catch {
            throw .failed("configuring zram0: \(error.description)")
        }
        let devicePath = zram.device.devicePath
        try SwapHeader.write(to: devicePath, totalBytes: sizeBytes)
        try swapOn(devicePath)
    }

    /// zswap: the swap file (created, allocated, header, swapon), then the compressor,
    /// max_pool_percent and enabled=Y; each undo registered right after its change (a
    /// parameter's before its write, so a half-done write is put back too).
    private func startZswap(_ setup: KernelZswapSetup) throws(KernelSwapError) {
        let path = setup.swapFilePath
        try SwapFile.create(path)
        let root = self.root
        remember(registry.register("rm \(path)") {
            // A file still in use as swap stays, so `swapoff PATH` can still find it.
            if SwapSystemCalls.activeSwaps(root: root).contains(path) {
                StandardError.line("uswap: \(path) is still swap; left in place: run `swapoff \(path) && rm \(path)`")
                return
            }
            do { try SwapFile.remove(path) } catch { StandardError.line("uswap: \(error)") }
        })
        try SwapFile.prepare(path, bytes: setup.swapFileBytes)
        try swapOn(path)
        let parameters = ZswapParameters(root: root)
        let changes = [
            ("compressor", setup.compressor), ("max_pool_percent", String(setup.maxPoolPercent)), ("enabled", "Y"),
        ]
        for (name, value) in changes {
            guard let was = setup.original[name], was != value else { continue }
            remember(registry.register("zswap \(name) \(was)") {
                do { try parameters.write(was, to: name) } catch { StandardError.line("uswap: \(error)") }
            })
            try parameters.write(value, to: name)
        }
    }

    /// swapon `path`, then registers its swapoff.
    private func swapOn(_ path: String) throws(KernelSwapError) {
        if let error = swapSwitch.on(path) { throw error }
        let swapSwitch = self.swapSwitch
        remember(registry.register("swapoff \(path)") {
            if let error = swapSwitch.off(path) { StandardError.line("uswap: \(error)") }
        })
    }

    /// zswap's and the swap file's events since the session was set up (zero counters for zram).
    func zswapCountersSinceStart() throws(KernelSwapError) -> KernelZswapCounters {
        guard let start = countersAtStart.withLock({ $0 }) else { return KernelZswapCounters() }
        return try KernelZswapCounters.read(root: root).since(start)
    }

    /// The child's zswap figures completed with what the parent knows: the vmstat deltas since
    /// the session was set up, the compressor and max_pool_percent.
    ///
    /// - Throws: ``KernelSwapError/failed(_:)`` when a swap other than the session's file is on
    ///   now: vmstat's counters are system-wide, so they would mix that swap's traffic in.
    func completeZswapReport(_ childReport: KernelZswapReport) throws(KernelSwapError) -> KernelZswapReport {
        if let zswap, let problem = Self.swapChangeProblem(activeSwaps: SwapSystemCalls.activeSwaps(root: root), swapFile: zswap.swapFilePath) {
            throw .failed(problem)
        }
        var report = childReport
        report.counters = try zswapCountersSinceStart()
        report.compressor = zswap?.compressor ?? ""
        report.compressorNote = zswap?.compressorNote ?? ""
        report.maxPoolPercent = zswap?.maxPoolPercent ?? 0
        return report
    }

    /// Why counters read now would not be the run's alone (nil: the session's swap file is the
    /// only swap, as at the start).
    static func swapChangeProblem(activeSwaps: [String], swapFile: String) -> String? {
        guard activeSwaps != [swapFile] else { return nil }
        let now = activeSwaps.isEmpty ? "none" : activeSwaps.joined(separator: ", ")
        return "the swaps changed during the run (now: \(now); expected only \(swapFile)): zswap's counters are "
            + "system-wide, so they would not be this run's alone; run again when nothing else swaps"
    }

    private func remember(_ token: CleanupToken) {
        tokens.withLock { $0.append(token) }
    }

    /// Runs `executable` with `arguments`, its stdout captured, its stderr shared; kills it if
    /// the process is interrupted. The child is expected to join ``cgroup`` as its first act.
    /// - Returns: the child's standard output.
    func runChild(executable: String, arguments: [String]) throws(KernelSwapError) -> String {
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw .failed("pipe: \(errnoText())") }
        let (readEnd, writeEnd) = (pipeFDs[0], pipeFDs[1])
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, writeEnd, STDOUT_FILENO)
        posix_spawn_file_actions_addclose(&actions, readEnd)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        // The parent ignores SIGINT/SIGTERM/SIGHUP (its cleanup handles them); the child must not
        // inherit that: give it the default actions back.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&defaults, signalNumber) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        close(writeEnd)
        guard rc == 0 else {
            close(readEnd)
            throw .failed("starting \(executable): \(String(cString: strerror(rc)))")
        }
        child.withLock { $0 = pid }
        let killToken = registry.register("child \(pid)") { [self] in
            let running = child.withLock { $0 }
            if running != 0 {
                kill(running, SIGKILL)
                var status: Int32 = 0
                _ = waitpid(running, &status, 0)
            }
        }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            output.append(contentsOf: chunk[0..<n])
        }
        close(readEnd)
        var status: Int32 = 0
        var waited: pid_t
        repeat { waited = waitpid(pid, &status, 0) } while waited < 0 && errno == EINTR
        child.withLock { $0 = 0 }
        registry.cancel(killToken)
        let text = String(decoding: output, as: UTF8.self)
        guard waited == pid else { throw .failed("the kernel-side child \(pid) was lost (interrupted?)") }
        let exited = status & 0x7F == 0
        let code = (status >> 8) & 0xFF
        guard exited else { throw .failed("the kernel-side child was killed by signal \(status & 0x7F)") }
        guard code == 0 || code == 1 else {
            throw .failed("the kernel-side child exited with status \(code)")
        }
        return text
    }

    /// Puts everything back (cgroup, page-cluster, then zram's swap and zram0, or zswap's
    /// parameters, swap and swap file), each step once; safe to call more than once.
    func restore() throws(KernelSwapError) {
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
    func leftovers() -> [String] {
        guard let zswap else { return Self.leftovers(root: root, cgroup: cgroup, pageCluster: originalPageCluster) }
        return Self.zswapLeftovers(root: root, cgroup: cgroup, pageCluster: originalPageCluster, setup: zswap)
    }

    /// What is not as it was after a zswap session: swap still on, the swap file still there, a
    /// zswap parameter changed, the cgroup still there, page-cluster changed.
    static func zswapLeftovers(root: SystemRoot = .live, cgroup: MemoryCgroup, pageCluster: String, setup: KernelZswapSetup) -> [String] {
        var problems: [String] = []
        let swaps = SwapSystemCalls.activeSwaps(root: root)
        if !swaps.isEmpty { problems.append("swap still on: \(swaps.joined(separator: ", "))") }
        if SysfsFile.exists(setup.swapFilePath) { problems.append("\(setup.swapFilePath) still exists") }
        let now = ZswapParameters(root: root).snapshot()
        for name in ZswapParameters.names where now[name] != setup.original[name] {
            problems.append("zswap \(name) is \(now[name] ?? "unreadable"), was \(setup.original[name] ?? "unreadable")")
        }
        if cgroup.exists { problems.append("\(cgroup.path) still exists") }
        let cluster = SysfsFile.readTrimmed(root.path("/proc/sys/vm/page-cluster")) ?? "?"
        if cluster != pageCluster { problems.append("page-cluster is \(cluster), was \(pageCluster)") }
        return problems
    }

    /// What is not as it was: swap still on, zram0 initialised, the cgroup still there,
    /// page-cluster changed. Empty when the machine is restored.
    static func leftovers(root: SystemRoot = .live, cgroup: MemoryCgroup, pageCluster: String) -> [String] {
        var problems: [String] = []
        let swaps = SwapSystemCalls.activeSwaps(root: root)
        if !swaps.isEmpty { problems.append("swap still on: \(swaps.joined(separator: ", "))") }
        let disksize = (try? KernelZramDevice(name: "zram0", root: root).disksize()) ?? -1
        if disksize != 0 { problems.append("zram0 disksize is \(disksize), not 0") }
        if cgroup.exists { problems.append("\(cgroup.path) still exists") }
        let now = SysfsFile.readTrimmed(root.path("/proc/sys/vm/page-cluster")) ?? "?"
        if now != pageCluster { problems.append("page-cluster is \(now), was \(pageCluster)") }
        return problems
    }

    /// The running `uswap` binary (resolved /proc/self/exe).
    static func currentExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return "/proc/self/exe" }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

// MARK: - The child's side

/// What the child measured, sent to the parent as one JSON line.
struct KernelChildReport: Sendable, Equatable {
    /// Wall time of the touch phase per touch, microseconds.
    var usPerTouch: Double
    /// CPU time of the touch phase per touch, microseconds.
    var cpuUsPerTouch: Double
    /// ru_majflt over the touch phase.
    var majorFaults: Int
    /// Touch phase wall time, seconds.
    var touchSeconds: Double
    /// Fill wall time, seconds.
    var fillSeconds: Double
    /// zram0 mm_stat fields read right after the touch phase.
    var zramOrigDataSize: Int
    var zramComprDataSize: Int
    var zramMemUsedTotal: Int
    /// The mm_stat line as read.
    var zramMMStatLine: String
    /// Verification.
    var verified: Bool
    var mismatches: Int
    /// Any extra figures a workload wants to send (demo: lookups, records).
    var extra: [String: Double] = [:]
    /// zswap's figures (zswap backing only; nil for zram): the child sends the pool figures,
    /// ``KernelSwapSession/measure(sizeBytes:limitBytes:backing:executable:arguments:started:restored:)``
    /// adds the vmstat deltas, the compressor and max_pool_percent.
    var zswap: KernelZswapReport? = nil

    /// The one-line JSON form.
    var json: JSONValue {
        var object: [String: JSONValue] = [
            "us_per_touch": .double(usPerTouch), "cpu_us_per_touch": .double(cpuUsPerTouch),
            "major_faults": .int(majorFaults), "touch_seconds": .double(touchSeconds),
            "fill_seconds": .double(fillSeconds), "zram_orig_data_size": .int(zramOrigDataSize),
            "zram_compr_data_size": .int(zramComprDataSize), "zram_mem_used_total": .int(zramMemUsedTotal),
            "zram_mm_stat": .string(zramMMStatLine), "verified": .bool(verified), "mismatches": .int(mismatches),
        ]
        for (key, value) in extra { object["x_" + key] = .double(value) }
        if let zswap { object.merge(zswap.jsonMembers) { _, new in new } }
        return .object(object)
    }

    /// Parses the line ``json`` renders (a flat object of numbers, booleans and strings).
    init(parsing text: String) throws(KernelSwapError) {
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
            let fields = FlatJSON.parse(String(line))
        else { throw .failed("the kernel-side child printed no result: \(text.prefix(200))") }
        func number(_ key: String) throws(KernelSwapError) -> Double {
            guard case .number(let value)? = fields[key] else { throw .failed("the kernel-side result lacks \(key)") }
            return value
        }
        usPerTouch = try number("us_per_touch")
        cpuUsPerTouch = try number("cpu_us_per_touch")
        majorFaults = Int(try number("major_faults"))
        touchSeconds = try number("touch_seconds")
        fillSeconds = try number("fill_seconds")
        zramOrigDataSize = Int(try number("zram_orig_data_size"))
        zramComprDataSize = Int(try number("zram_compr_data_size"))
        zramMemUsedTotal = Int(try number("zram_mem_used_total"))
        guard case .string(let line)? = fields["zram_mm_stat"] else { throw .failed("the kernel-side result lacks zram_mm_stat") }
        zramMMStatLine = line
        guard case .bool(let ok)? = fields["verified"] else { throw .failed("the kernel-side result lacks verified") }
        verified = ok
        mismatches = Int(try number("mismatches"))
        for (key, value) in fields where key.hasPrefix("x_") {
            if case .number(let v) = value { extra[String(key.dropFirst(2))] = v }
        }
        zswap = KernelZswapReport(fields: fields)
    }

    /// A report from figures. A zswap child passes `zswap` (``KernelZswapFigures/read(root:)``
    /// right after its touch phase); a zram child leaves it nil.
    init(
        usPerTouch: Double, cpuUsPerTouch: Double, majorFaults: Int, touchSeconds: Double, fillSeconds: Double,
        mmStat: KernelMMStat?, mmStatLine: String, verified: Bool, mismatches: Int, extra: [String: Double] = [:],
        zswap: KernelZswapFigures? = nil
    ) {
        self.usPerTouch = usPerTouch
        self.cpuUsPerTouch = cpuUsPerTouch
        self.majorFaults = majorFaults
        self.touchSeconds = touchSeconds
        self.fillSeconds = fillSeconds
        self.zramOrigDataSize = mmStat?.origDataSize ?? 0
        self.zramComprDataSize = mmStat?.comprDataSize ?? 0
        self.zramMemUsedTotal = mmStat?.memUsedTotal ?? 0
        self.zramMMStatLine = mmStatLine
        self.verified = verified
        self.mismatches = mismatches
        self.extra = extra
        self.zswap = zswap.map(KernelZswapReport.init(figures:))
    }
}

/// A reader for the flat JSON objects the kernel child prints (no nesting).
enum FlatJSON {
    /// A scalar value.
    enum Value: Equatable {
        case number(Double)
        case bool(Bool)
        case string(String)
        case null
    }

    /// The members of a flat JSON object, or nil when `text` is not one.
    static func parse(_ text: String) -> [String: Value]? {
        let s = Array(text.utf8)
        var i = 0
        func skip() { while i < s.count, s[i] == 0x20 || s[i] == 0x0A || s[i] == 0x09 || s[i] == 0x0D { i += 1 } }
        func string() -> String? {
            guard i < s.count, s[i] == UInt8(ascii: "\"") else { return nil }
            i += 1
            var bytes: [UInt8] = []
            while i < s.count, s[i] != UInt8(ascii: "\"") {
                if s[i] == UInt8(ascii: "\\"), i + 1 < s.count {
                    i += 1
                    switch s[i] {
                    case UInt8(ascii: "n"): bytes.append(0x0A)
                    case UInt8(ascii: "t"): bytes.append(0x09)
                    case UInt8(ascii: "r"): bytes.append(0x0D)
                    case UInt8(ascii: "u"):
                        guard i + 4 < s.count, let v = UInt8(String(decoding: s[(i + 1)...(i + 4)], as: UTF8.self), radix: 16)
                        else { return nil }
                        bytes.append(v)
                        i += 4
                    default: bytes.append(s[i])
                    }
                } else {
                    bytes.append(s[i])
                }
                i += 1
            }
            guard i < s.count else { return nil }
            i += 1
            return String(decoding: bytes, as: UTF8.self)
        }
        skip()
        guard i < s.count, s[i] == UInt8(ascii: "{") else { return nil }
        i += 1
        var result: [String: Value] = [:]
        skip()
        if i < s.count, s[i] == UInt8(ascii: "}") { return result }
        while i < s.count {
            skip()
            guard let key = string() else { return nil }
            skip()
            guard i < s.count, s[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            skip()
            guard i < s.count else { return nil }
            if s[i] == UInt8(ascii: "\"") {
                guard let v = string() else { return nil }
                result[key] = .string(v)
            } else {
                let start = i
                while i < s.count, s[i] != UInt8(ascii: ","), s[i] != UInt8(ascii: "}") { i += 1 }
                let token = String(decoding: s[start..<i], as: UTF8.self).filter { !$0.isWhitespace }
                switch token {
                case "true": result[key] = .bool(true)
                case "false": result[key] = .bool(false)
                case "null": result[key] = .null
                default:
                    guard let v = Double(token) else { return nil }
                    result[key] = .number(v)
                }
            }
            skip()
            guard i < s.count else { return nil }
            if s[i] == UInt8(ascii: "}") { return result }
            guard s[i] == UInt8(ascii: ",") else { return nil }
            i += 1
        }
        return nil
    }
}

/// Anonymous memory for the kernel child: `byteCount` bytes mapped private and anonymous, huge
/// pages off (as swapbench.c), owned by this object until ``unmap()`` or `deinit`.
/// Invariant: `base` maps exactly `byteCount` bytes while `mapped` is true.
final class AnonymousRegion {
    /// The first byte.
    let base: UnsafeMutableRawPointer
    /// The mapping's length.
    let byteCount: Int
    private var mapped = true

    /// Maps `byteCount` bytes (a positive multiple of the page size).
    init(byteCount: Int) throws(KernelSwapError) {
        guard byteCount > 0 else { throw .failed("cannot map \(byteCount) bytes") }
        let p = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else { throw .failed("mmap of \(byteCount) bytes: \(errnoText())") }
        _ = madvise(p, byteCount, MADV_NOHUGEPAGE)
        base = p
        self.byteCount = byteCount
    }

    /// Unmaps the memory (once).
    func unmap() {
        if mapped { munmap(base, byteCount) }
        mapped = false
    }

    deinit { unmap() }

    /// Checks the invariant (debug builds).
    func checkInvariants() {
        #if DEBUG
        precondition(!mapped || Int(bitPattern: base) % 4096 == 0, "mapping not page-aligned")
        #endif
    }
}

/// The text of `errno`.
func errnoText() -> String { String(cString: strerror(errno)) }

/// Writes `text` (and a newline) to the file at `path`, as `echo text > path` does.
func writeText(_ text: String, to path: String) throws(KernelSwapError) {
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { throw .failed("open \(path): \(errnoText())") }
    defer { close(fd) }
    let line = text + "\n"
    let n = line.withCString { write(fd, $0, strlen($0)) }
    guard n == line.utf8.count else { throw .failed("write \"\(text)\" to \(path): \(errnoText())") }
}

extension KernelSwapSession {
    /// One kernel-side measurement, the shape every `--vs-kernel` swap run shares: start a
    /// session (zram0 or zswap as swap, see ``KernelSwapBacking``; a memory cgroup of
    /// `limitBytes`), run a child `uswap` with `arguments(cgroupPath)` inside it, parse its
    /// report, and restore the machine whatever happened. A restore failure turns the outcome
    /// into a failure that says so.
    ///
    /// With zswap the child must report its pool figures (`zswap_pool_bytes`, `zswapped_bytes`);
    /// the measured report's ``KernelChildReport/zswap`` then also holds the vmstat deltas over
    /// the child (pages written back, stores, loads, swap-file reads and writes), the compressor
    /// and max_pool_percent. A zswap child without pool figures is a failure.
    static func measure(
        sizeBytes: Int, limitBytes: Int, backing: KernelSwapBacking = .zram, executable: String?,
        arguments: (String) -> [String], started: (KernelSwapSession) -> Void = { _ in },
        restored: (KernelSwapSession) -> Void = { _ in }
    ) -> KernelOutcome {
        let session: KernelSwapSession
        do {
            session = try KernelSwapSession.start(sizeBytes: sizeBytes, limitBytes: limitBytes, backing: backing)
        } catch {
            return .unavailable(error.description)
        }
        started(session)
        var outcome: KernelOutcome
        do throws(KernelSwapError) {
            let output = try session.runChild(
                executable: executable ?? KernelSwapSession.currentExecutable(),
                arguments: arguments(session.cgroup.path))
            var report = try KernelChildReport(parsing: output)
            if session.zswap != nil {
                guard let figures = report.zswap else {
                    throw .failed("the kernel-side child reported no zswap figures (zswap_pool_bytes, zswapped_bytes)")
                }
                report.zswap = try session.completeZswapReport(figures)
            }
            outcome = .measured(report)
        } catch {
            outcome = .failed(error.description)
        }
        do {
            try session.restore()
            restored(session)
        } catch {
            outcome = .failed("\(outcome.summary); \(error.description)")
        }
        return outcome
    }
}
