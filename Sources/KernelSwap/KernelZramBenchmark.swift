/// What ../shared/tools/kzram.sh measures, done in-process: a corpus written to the kernel's
/// zram device with 1 MiB `O_DIRECT` writes and an fsync, read back likewise, and compared,
/// on a fresh device each run; then the device is put back as it was found.
public enum KernelZramBenchmark {
    /// The kernel device's figures over a corpus.
    public struct Figures: Sendable, Equatable {
        /// mm_stat after the last run.
        public var mmStat: KernelMMStat
        /// The disksize each run gave the device (``KernelZram/benchmarkDisksize(for:)``).
        public var disksize: Int
        /// The fastest write of the corpus (with its fsync), seconds.
        public var writeSeconds: Double
        /// The fastest read of the corpus, seconds.
        public var readSeconds: Double
        /// Pages that did not read back equal to the corpus, summed over all runs.
        public var mismatches: Int
        /// The algorithm the device compressed with.
        public var algorithm: String

        /// The kernel's slot table for ``disksize``: 16 bytes per slot, computed, not measured.
        public var slotTableBytes: Int { disksize / 4096 * 16 }
    }

    /// The result: figures, or why there are none.
    public enum Outcome: Sendable, Equatable {
        /// Measured (and the device restored).
        case measured(Figures)
        /// Not measured (not root, no device, in use, a failed step); the reason says which. A
        /// reason that starts with "could not restore" means the device was left changed.
        case unavailable(String)
    }

    /// Best-of-`runs` figures of the kernel's zram `device` over `data` (whole pages of
    /// `pageSize`), compressed with `algorithm` (and `parameters` for algorithm_params, such as
    /// `level=3`), or why they cannot be had. The device is restored before this returns, and
    /// on SIGINT/SIGTERM if ``SignalCleanup/installHandlers()`` was called; `progress` gets the
    /// runs done.
    public static func run(
        data: UnsafeRawBufferPointer, pageSize: Int, algorithm: String, parameters: String? = nil, runs: Int,
        device: String = "zram0", root: SystemRoot = .live, registry: CleanupRegistry = SignalCleanup.shared,
        progress: (Int) -> Void = { _ in }
    ) -> Outcome {
        let session: KernelZramSession
        do {
            session = try KernelZramSession.acquire(device, root: root, registry: registry)
        } catch {
            return .unavailable(error.description)
        }
        let disksize = KernelZram.benchmarkDisksize(for: data.count)
        var best = (write: Double.infinity, read: Double.infinity)
        var mismatches = 0
        var mmStat = KernelMMStat()
        var failure: String?
        for run in 0..<max(1, runs) {
            do {
                try session.configure(algorithm: algorithm, parameters: parameters, disksize: disksize)
                let io = try session.openBlockDevice()
                defer { session.closeBlockDevice(io) }
                let write = try io.write(data)
                let read = try io.read(byteCount: data.count)
                mismatches += try io.mismatchedPages(comparing: data, pageSize: pageSize)
                mmStat = try session.device.mmStat()
                best.write = min(best.write, write.seconds)
                best.read = min(best.read, read.seconds)
            } catch {
                failure = "\(error)"
                break
            }
            progress(run + 1)
        }
        do {
            try session.restore()
        } catch {
            return .unavailable(error.description)
        }
        if let failure { return .unavailable("\(device): \(failure)") }
        return .measured(Figures(
            mmStat: mmStat, disksize: disksize, writeSeconds: best.write, readSeconds: best.read, mismatches: mismatches,
            algorithm: algorithm))
    }
}
