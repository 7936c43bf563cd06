import SystemSupport

// Control of the kernel's zram devices (/dev/zramN) through sysfs: discovery, the "unused"
// decision, configuration (comp_algorithm, disksize), statistics, reset, and a session that puts
// a device back as it found it, also on SIGINT/SIGTERM (through ``SignalCleanup``).
//
// The sysfs rules this code keeps (drivers/block/zram/zram_drv.c):
// - comp_algorithm (and algorithm_params) can be written only while the device is uninitialized
//   (disksize 0); writing disksize initializes the device.
// - reset fails with EBUSY while anyone holds the block device open.
// - reset returns comp_algorithm to the kernel's default, so a restore writes it back.

/// Discovery of the kernel's zram devices.
public enum KernelZram {
    /// The zram devices under `root`'s /sys/block, in numeric order (`zram2` before `zram10`).
    public static func devices(root: SystemRoot = .live) -> [KernelZramDevice] {
        Sysfs.list(root.path("/sys/block"))
            .compactMap { name -> (Int, String)? in
                guard name.hasPrefix("zram"), let n = Int(name.dropFirst(4)), n >= 0 else { return nil }
                return (n, name)
            }
            .sorted { $0.0 < $1.0 }
            .map { KernelZramDevice(name: $0.1, root: root) }
    }

    /// Whether the zram module is loaded (or built in): /sys/class/zram-control or /sys/module/zram.
    public static func moduleLoaded(root: SystemRoot = .live) -> Bool {
        Sysfs.exists(root.path("/sys/class/zram-control")) || Sysfs.exists(root.path("/sys/module/zram"))
    }

    /// The number of online CPUs.
    public static func onlineCPUs() -> Int { NativeThread.processorCount }

    /// The disksize the kernel benchmark gives a device for `byteCount` bytes: 1 GiB, like
    /// kzram.sh, or the size rounded up to 1 MiB when larger.
    public static func benchmarkDisksize(for byteCount: Int) -> Int {
        let mib = 1 << 20
        return max(1 << 30, (byteCount + mib - 1) / mib * mib)
    }
}
