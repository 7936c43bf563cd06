#if os(Linux)
import CUSwap
import SystemPackage

/// A region's entry in the process-wide SIGBUS trampoline (CUSwap): while the value lives, a
/// SIGBUS at an address in its range calls its handler on the faulting thread; when it goes,
/// the entry is removed (waiting until no handler runs for it) and the process's SIGBUS action
/// is given back once no region needs it.
///
/// The trampoline itself stays in C: a signal handler must read `si_addr` and the page-fault
/// error code from the signal context and chain to the previous action, with nothing between
/// the kernel and the pager that could allocate or lock.
///
/// Owner and lifetime: the value owns one reference on the installed SIGBUS action and one
/// registration slot, from ``init(base:length:entry:context:)`` until it is destroyed.
/// Invariant: `context` (the pointer the entry receives) stays valid for the whole life of the
/// value: the owner keeps what it points to alive at least that long.
struct SignalRegistration: ~Copyable {
    private let index: Int32

    /// Installs the trampoline (or takes another reference on it) and routes faults in
    /// `base..<base+length` to `entry(context, address, access)`. Throws
    /// ``SwapError/systemCall(_:errno:)`` when `sigaction` fails and
    /// ``SwapError/tooManyRegions(limit:)`` when every registration slot is taken; either way
    /// nothing stays installed.
    init(base: UInt, length: Int, entry: cuswap_fault_fn, context: UnsafeMutableRawPointer) throws(SwapError) {
        let rc = cuswap_sigbus_retain()
        guard rc == 0 else { throw .systemCall("sigaction(SIGBUS)", errno: Errno(rawValue: rc)) }
        let index = cuswap_sigbus_register(base, length, entry, context)
        guard index >= 0 else {
            cuswap_sigbus_release()
            throw .tooManyRegions(limit: Int(cuswap_sigbus_capacity()))
        }
        self.index = index
    }

    deinit {
        cuswap_sigbus_unregister(index)
        cuswap_sigbus_release()
    }
}
#endif
