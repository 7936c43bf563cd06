/// The victims of one batched eviction: up to ``capacity`` locked resident pages in ascending
/// order within a short span of the region, with the state each was locked in and the slot its
/// contents went to. A plain value on the stack of the evicting thread (inline storage: no
/// allocation, so a SIGBUS handler may build one).
///
/// Evicting the victims together is what makes eviction cheap with several threads: one
/// `UFFDIO_WRITEPROTECT` over the span and one `process_madvise(MADV_DONTNEED)` over the
/// victims take two TLB flushes for the whole batch, where evicting page by page takes one or
/// two per page, each an inter-processor interrupt to every other CPU running the program.
struct EvictionBatch {
    /// The most victims one batch holds: 64, twice the kernel's `SWAP_CLUSTER_MAX`. The
    /// background reclaimer takes full batches, and each of its TLB flushes interrupts every
    /// CPU running the program (in a virtual machine the interrupt's send and wait showed as
    /// 2% of the run's CPU). Uniform workload (1 GiB region, 256 MiB resident, 300,000 touches,
    /// 30% writes), 32 against 64, interleaved: TLB shootdowns per run 48,000 against 30,700
    /// (one thread), 53,000 against 36,700 (2), 56,000 against 41,000 (4); CPU per touch
    /// 17.3 / 17.3 against 16.3 / 15.6 us with 2 threads, the rest within the machine's noise;
    /// Zipf 0.99 swap-ins unchanged (174,380 against 174,383).
    static var capacity: Int { 64 }

    /// The victims held.
    private(set) var count = 0
    /// Each victim's page.
    private var pages = InlineArray<64, Int>(repeating: 0)
    /// Each victim's state when it was locked (lock bit clear).
    private var states = InlineArray<64, UInt64>(repeating: 0)
    /// Each victim's new slot once its contents are stored; -1 before (or for a clean page,
    /// whose contents are already in its old slot).
    private var slots = InlineArray<64, Int>(repeating: -1)

    /// The most victims this batch takes (``capacity`` or fewer: an eviction inside a fault
    /// takes ``SwapTuning/inFaultEvictionBatch``).
    let limit: Int

    /// An empty batch of at most `limit` victims (1...``capacity``).
    init(limit: Int = EvictionBatch.capacity) {
        precondition(limit >= 1 && limit <= Self.capacity, "an eviction batch takes 1...\(Self.capacity) victims, not \(limit)")
        self.limit = limit
    }

    /// Whether no victim is held.
    var isEmpty: Bool { count == 0 }
    /// Whether the batch holds ``limit`` victims.
    var isFull: Bool { count == limit }
    /// The lowest victim page (the batch must not be empty).
    var firstPage: Int { pages[0] }
    /// The highest victim page (the batch must not be empty): the next one must lie above it.
    var lastPage: Int { pages[count - 1] }

    /// Adds a victim whose lock the caller took; pages must come in ascending order.
    mutating func append(page: Int, state: PageState) {
        precondition(!isFull, "this eviction batch holds at most \(limit) pages")
        precondition(count == 0 || page > pages[count - 1], "eviction batch pages must ascend (the write-protected span runs from the first to the last)")
        pages[count] = page
        states[count] = state.raw
        slots[count] = -1
        count += 1
    }

    /// Victim `k`'s page.
    func page(_ k: Int) -> Int { pages[k] }
    /// Victim `k`'s state when locked.
    func state(_ k: Int) -> PageState { PageState(raw: states[k]) }
    /// Victim `k`'s new slot, or -1 (none yet, or a clean victim), or below when it went to
    /// the victim cache (``isCached(_:)``).
    func slot(_ k: Int) -> Int { slots[k] }
    /// Records where victim `k`'s contents were stored.
    mutating func setSlot(_ k: Int, _ slot: Int) { slots[k] = slot }
    /// Records that victim `k`'s contents went to the victim cache (no slot).
    mutating func setCached(_ k: Int) { slots[k] = Self.cachedSlot }
    /// Whether victim `k`'s contents went to the victim cache.
    func isCached(_ k: Int) -> Bool { slots[k] == Self.cachedSlot }
    /// The slot value that marks a victim whose contents went to the victim cache.
    private static var cachedSlot: Int { -2 }
    /// Records that victim `k` is no longer evicted by this batch (its lock was released).
    mutating func drop(_ k: Int) { pages[k] = -1 }
    /// Whether victim `k` is still evicted by this batch.
    func isLive(_ k: Int) -> Bool { pages[k] >= 0 }

    /// Whether victim `k` is clean: its old slot still holds its contents (a lazy copy), so it
    /// leaves without being compressed.
    func isClean(_ k: Int) -> Bool {
        let s = state(k)
        return !s.isDirty && s.hasSlot
    }

    /// The first and last live dirty victims (the span to write-protect), or nil when none.
    var dirtySpan: (first: Int, last: Int)? {
        var first = -1, last = -1
        for k in 0..<count where isLive(k) && !isClean(k) {
            if first < 0 { first = pages[k] }
            last = pages[k]
        }
        return first < 0 ? nil : (first, last)
    }

    /// Empties the batch for the next round.
    mutating func removeAll() { count = 0 }
}
