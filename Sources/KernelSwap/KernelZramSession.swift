import Synchronization
import SystemPackage
import SystemSupport

/// Exclusive use of one unused kernel zram device, and the promise to put it back.
///
/// ``acquire(_:root:isRoot:registry:)`` checks the device can be used (root, present, unused),
/// records what it found (comp_algorithm) and registers a restore action in the cleanup
/// registry, so the device is put back on SIGINT/SIGTERM/exit too. ``restore()`` runs that action
/// on the normal path. Restoring closes the block device if a benchmark still holds it open
/// (the descriptor is pointed at /dev/null so no one writes through a reused number), resets the
/// device (retrying while the kernel reports it busy) and writes the original algorithm back.
public final class KernelZramSession: Sendable {
    /// The device.
    public let device: KernelZramDevice
    /// comp_algorithm as found.
    public let originalAlgorithm: String
    /// The algorithms the kernel offers.
    public let availableAlgorithms: [String]

    private let registry: CleanupRegistry
    private let token: Mutex<CleanupToken?> = Mutex(nil)
    /// The block device currently open through this session, if any.
    private let openDevice = Mutex<DirectIODevice?>(nil)
    /// What the last restore found wrong (set by the restore action, read by ``restore()``).
    private let restoreError = Mutex<KernelZramError?>(nil)

    private init(device: KernelZramDevice, originalAlgorithm: String, availableAlgorithms: [String], registry: CleanupRegistry) {
        self.device = device
        self.originalAlgorithm = originalAlgorithm
        self.availableAlgorithms = availableAlgorithms
        self.registry = registry
    }

    /// Takes device `name` if it can be used, and registers its restore.
    ///
    /// - Throws: ``KernelZramError/unavailable(_:)`` when not root, the module is not loaded or
    ///   the device does not exist; ``KernelZramError/inUse(device:reasons:)`` when it is in use
    ///   (then nothing was changed).
    public static func acquire(
        _ name: String = "zram0", root: SystemRoot = .live, isRoot: Bool = geteuid() == 0,
        registry: CleanupRegistry = SignalCleanup.shared
    ) throws(KernelZramError) -> KernelZramSession {
        guard isRoot else { throw .unavailable("not root: configuring /dev/\(name) needs root") }
        let device = KernelZramDevice(name: name, root: root)
        guard Sysfs.exists(device.directory) else {
            if KernelZram.moduleLoaded(root: root) {
                throw .unavailable("no /dev/\(name): the zram module is loaded but has no such device (as root, `cat /sys/class/zram-control/hot_add` adds one)")
            }
            throw .unavailable("no /dev/\(name): the zram module is not loaded (modprobe zram as root)")
        }
        guard Sysfs.exists(device.devicePath) else {
            throw .unavailable("\(device.devicePath) does not exist although \(device.directory) does")
        }
        guard Sysfs.isWritable(device.attributePath("reset")) else {
            throw .unavailable("\(device.attributePath("reset")) is not writable")
        }
        let reasons = try device.inUseReasons()
        guard reasons.isEmpty else { throw .inUse(device: name, reasons: reasons) }
        let algorithms = try device.algorithms()
        let session = KernelZramSession(
            device: device, originalAlgorithm: algorithms.selected, availableAlgorithms: algorithms.available,
            registry: registry)
        let token = registry.register("\(name) (reset, comp_algorithm \(algorithms.selected))") { [session] in
            session.restoreNow()
        }
        session.token.withLock { $0 = token }
        return session
    }

    /// Resets the device and initializes it with `algorithm` and `disksize` bytes.
    /// `parameters` (such as `level=3`) go to algorithm_params when given.
    public func configure(algorithm: String, parameters: String? = nil, disksize: Int) throws(KernelZramError) {
        guard availableAlgorithms.contains(algorithm) else {
            throw .unsupportedAlgorithm(device: device.name, requested: algorithm, available: availableAlgorithms)
        }
        try resetRetryingWhileBusy()
        try device.write(algorithm, to: "comp_algorithm")
        if let parameters { try device.write("algo=\(algorithm) \(parameters)", to: "algorithm_params") }
        try device.write(String(disksize), to: "disksize")
    }

    /// Opens the block device for direct I/O; the session closes it on restore if the caller
    /// has not.
    public func openBlockDevice(chunkSize: Int = 1 << 20) throws(DirectIOError) -> DirectIODevice {
        let opened = try DirectIODevice(path: device.devicePath, chunkSize: chunkSize)
        openDevice.withLock { $0 = opened }
        return opened
    }

    /// Closes a device opened with ``openBlockDevice(chunkSize:)``.
    public func closeBlockDevice(_ opened: DirectIODevice) {
        openDevice.withLock { current in
            opened.close()
            if current === opened { current = nil }
        }
    }

    /// Puts the device back as found (reset, original algorithm) and drops the registration.
    /// Safe to call more than once; only the first call does anything.
    public func restore() throws(KernelZramError) {
        guard let token = self.token.withLock({ $0 }) else { return }
        registry.run(token)
        if let error = restoreError.withLock({ $0 }) { throw error }
    }

    /// The restore action itself (also run from the signal path).
    private func restoreNow() {
        openDevice.withLock { current in
            current?.detachToDevNull()
            current = nil
        }
        do throws(KernelZramError) {
            try resetRetryingWhileBusy()
            if (try? device.algorithms().selected) != originalAlgorithm {
                try device.write(originalAlgorithm, to: "comp_algorithm")
            }
            let size = try device.disksize()
            if size != 0 { throw .restoreFailed(device: device.name, reason: "disksize is \(size) after reset") }
        } catch .restoreFailed(let name, let reason) {
            restoreError.withLock { $0 = .restoreFailed(device: name, reason: reason) }
        } catch {
            restoreError.withLock { $0 = .restoreFailed(device: device.name, reason: error.description) }
        }
    }

    /// Writes reset, retrying for up to 5 s while the kernel says the device is busy (a direct
    /// write in flight still holds it open).
    private func resetRetryingWhileBusy() throws(KernelZramError) {
        var attempts = 0
        while true {
            do {
                try device.write("1", to: "reset")
                return
            } catch {
                guard case .sysfs(_, _, let code) = error, code == .resourceBusy, attempts < 500 else { throw error }
                attempts += 1
                sleepMicroseconds(10_000)
            }
        }
    }
}
