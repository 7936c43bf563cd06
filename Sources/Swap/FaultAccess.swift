#if os(Linux)
import CUSwap
#endif

/// What a faulting access was: a read, a write, or unknown (the trampoline could not tell).
///
/// One 32-bit word whose raw values are the C side's `CUSWAP_ACCESS_*`, so converting the
/// trampoline's report is one comparison: trivially async-signal-safe, as everything on the
/// fault path must be. A write that faults on a write-protected page is what makes a clean
/// page dirty; a known write also means a lazy swap-in need not keep the slot's copy.
enum FaultAccess: Int32, Sendable {
    /// The kernel did not say (an architecture whose signal context has no error code).
    case unknown = -1
    /// A load.
    case read = 0
    /// A store.
    case write = 1

    #if os(Linux)
    /// The access the SIGBUS trampoline reported (`CUSWAP_ACCESS_*`); anything else is unknown.
    @inline(__always)
    init(reported value: Int32) {
        self = FaultAccess(rawValue: value) ?? .unknown
    }

    /// The access a userfaultfd page-fault message describes: a write when its flags carry
    /// `UFFD_PAGEFAULT_FLAG_WRITE` or `UFFD_PAGEFAULT_FLAG_WP`, else a read.
    @inline(__always)
    init(messageFlags flags: UInt64) {
        self = flags & (cuswap_pagefault_flag_write | cuswap_pagefault_flag_wp) != 0 ? .write : .read
    }
    #endif
}
