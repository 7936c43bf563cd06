extension KernelSwapSession {
    /// One kernel-side measurement, the shape every `--vs-kernel` swap run shares: start a
    /// session (zram0 or zswap as swap, see ``KernelSwapBacking``; a memory cgroup of
    /// `limitBytes`), run a child (`executable`, or this program when nil) with `arguments(cgroupPath)` inside it, parse its
    /// report, and restore the machine whatever happened. A restore failure turns the outcome
    /// into a failure that says so.
    ///
    /// With zswap the child must report its pool figures (`zswap_pool_bytes`, `zswapped_bytes`);
    /// the measured report's ``KernelChildReport/zswap`` then also holds the vmstat deltas over
    /// the child (pages written back, stores, loads, swap-file reads and writes), the compressor
    /// and max_pool_percent. A zswap child without pool figures is a failure.
    public static func measure(
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
            outcome = .failed("\(outcome); \(error.description)")
        }
        return outcome
    }
}
