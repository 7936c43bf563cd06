/// When a swap region frees the compressed copy of a page it swapped in.
///
/// The two choices trade memory for CPU, as in the kernel: freeing on swap-in keeps one copy of
/// each page (resident or compressed, never both); keeping the copy ("lazy", the kernel's
/// default for swap devices) lets a page that was only read be evicted again by dropping it,
/// without compressing it a second time.
///
/// Whatever the policy, a copy is freed only after its page was installed successfully (the
/// `UFFDIO_COPY` returned success, not `EEXIST`), only when no other reader holds the slot, and
/// the page is then dirty; reads that are not swap-ins (``SwapRegion/snapshot(into:)``) never
/// free.
public enum SlotPolicy: String, Sendable, CaseIterable {
    /// Free the compressed copy as soon as the page is installed (the seed's
    /// `swap_slot_free_notify`, zswap's exclusive loads) and treat the page as dirty.
    case freeOnSwapIn = "free-on-swapin"
    /// Keep the copy and map the page write-protected: a clean page is evicted again by
    /// dropping it. The first write makes it dirty and frees the stale copy. Copies are also
    /// freed on swap-in when more than half the backend's slots are in use (`vm_swap_full`).
    case lazy
    /// Lazy while the backend has room, free on swap-in under pressure: when more than half the
    /// backend's slots are in use, or when the copies kept for resident pages reach a quarter
    /// of the resident limit.
    case adaptive

    /// The library's default: ``freeOnSwapIn``. Measured (1 GiB region, 256 MiB resident,
    /// zram LZ4): uniform touches 19.4 us CPU/touch against lazy's 17.9, Zipf 0.99 5.4 against
    /// 5.7 (a write to a lazily swapped-in page costs a second fault), and 309 MiB of zram
    /// against 370: it never holds a page twice.
    public static var `default`: SlotPolicy { .freeOnSwapIn }
}
