import CProcessPager
import Synchronization
import SystemPackage
import SystemSupport

/// One page the evictor is taking out of a program.
struct Victim {
    /// The page number (address >> 12); the fault reader rewrites it under the session's lock
    /// when the program moves the page with mremap.
    var page: UInt64
    /// The residency generation the page had when it was claimed.
    var generation: UInt8
    /// The state the claim wrote (kind evicting).
    var claimed: PageState
    /// Where the page sits in the scratch half once moved (-1: not moved).
    var scratchIndex: Int
    /// The page was removed or unmapped after it was moved: its scratch copy is garbage.
    var discarded: Bool
}

/// Session indices, shared by the threads that make sessions (evictor: new images; reader:
/// fork children); an index is reused only after its session is destroyed. Whether an index is
/// in use is readable without the lock, so the evictor can tell a ring entry of a session it
/// has not heard of yet (a fork child the reader just made) from one of a session that ended.
final class SessionIndices: @unchecked Sendable {
    // @unchecked Sendable: the free list is behind a mutex, the flags are atomics.
    private let free: Mutex<[Int]>
    private let inUse: UnsafeMutablePointer<Atomic<Bool>>

    init() {
        free = Mutex(Array((0..<RingEntry.sessionLimit).reversed()))
        inUse = .allocate(capacity: RingEntry.sessionLimit)
        for i in 0..<RingEntry.sessionLimit { (inUse + i).initialize(to: Atomic(false)) }
    }

    deinit {
        inUse.deinitialize(count: RingEntry.sessionLimit)
        inUse.deallocate()
    }

    func take() -> Int? {
        guard let index = free.withLock({ $0.popLast() }) else { return nil }
        inUse[index].store(true, ordering: .releasing)
        return index
    }

    func give(_ index: Int) {
        inUse[index].store(false, ordering: .releasing)
        free.withLock { $0.append(index) }
    }

    /// Whether a session holds `index` now.
    func isInUse(_ index: Int) -> Bool { inUse[index].load(ordering: .acquiring) }
}

/// One process image under the pager: its userfaultfd, its page table, its agent's socket.
///
/// **Memory and ownership.** The session owns its userfaultfd (closed in `deinit`), its
/// ``PageTable`` and its victim array (64 entries, allocated in `init`, freed in `deinit`), and
/// one use of every slot its table names: `deinit` releases them, so a slot shared with a
/// forked child stays until the child lets it go too. The fault reader and the evictor each hold
/// a reference while they use the session; it is destroyed when both have let it go, and its
/// index then goes back to ``SessionIndices``.
///
/// **Threads.** Page states are atomics changed by compare-and-swap. ``lock`` guards the victim
/// array and orders the evictor's claims and commits against the reader's remap and fork
/// handling. Fields marked "evictor" are touched by the evictor thread only.
final class Session: @unchecked Sendable {
    // @unchecked Sendable: shared fields are atomics or guarded by `lock` as documented.

    /// The index that ring entries and epoll tokens use.
    let index: Int
    /// The program's userfaultfd (a descriptor of this process).
    let uffd: Int32
    /// Every page's state.
    let table: PageTable
    /// The agent's scratch area (two halves of 64 pages), registered with `uffd`.
    let scratchBase: UInt64
    /// A child made by fork (its agent connects after the fork event).
    let isForkChild: Bool
    /// The parent's pid when this is a fork child.
    let parentPid: Int32
    /// The process id, once known.
    let pid = Atomic<Int32>(0)
    /// The agent's drop thread: its faults are never held back (it must finish for room to appear).
    let dropperTid = Atomic<Int32>(0)
    /// Forks announced (FORK_BEGIN) whose fork event has not been handled yet: no slot is freed
    /// and no page is evicted in this session meanwhile.
    let forkPending = Atomic<Int>(0)
    /// Managed pages mapped in this process.
    let resident = Atomic<Int>(0)
    /// Guards `victims` and `victimCount`.
    let lock = SpinLock()
    /// The evictor's current batch.
    let victims: UnsafeMutablePointer<Victim>
    /// Entries in use in `victims`.
    var victimCount = 0

    // reader
    /// The reader stopped serving this session: its queued faults are dropped.
    var endedForReader = false

    // evictor
    /// Where a scratch half is in its cycle.
    enum HalfState: Equatable {
        /// Empty: a batch may move pages into it.
        case free
        /// An EVICT asked the agent to move victims into it; its answer is awaited.
        case moving
        /// Holds stored pages' old copies, to be dropped.
        case holding
        /// An EVICT asked the agent to drop it (its sequence).
        case dropping(UInt64)
    }

    /// The agent's socket, -1 before the hello of a fork child and after the agent went away.
    var socket: Int32 = -1
    /// Each scratch half's state.
    var halves: [HalfState] = [.free, .free]
    /// Pages in each half (moved in, not yet dropped).
    var pagesInHalf: [Int] = [0, 0]
    /// The EVICT whose answer is awaited (0: none), and the half it moves into.
    var inflight: UInt64 = 0
    var inflightHalf = 0
    /// FORK_BEGIN sequences to answer once the batch in flight is committed.
    var deferredForkReady: [UInt64] = []
    /// Pages to make exclusive with the next EVICT (fork left them shared).
    var unshare: [UInt64] = []

    private let slots: SlotSpace
    private let indices: SessionIndices

    /// Pages in each scratch half.
    static let pagesPerHalf = Int(USWAP_SCRATCH_HALF_PAGES)
    /// Pages in the whole scratch area.
    static let scratchPages = Int(USWAP_SCRATCH_HALVES * USWAP_SCRATCH_HALF_PAGES)

    init(
        index: Int, uffd: Int32, scratchBase: UInt64, isForkChild: Bool, parentPid: Int32, slots: SlotSpace,
        indices: SessionIndices
    ) throws(Errno) {
        self.table = try PageTable()
        self.index = index
        self.uffd = uffd
        self.scratchBase = scratchBase
        self.isForkChild = isForkChild
        self.parentPid = parentPid
        self.slots = slots
        self.indices = indices
        victims = .allocate(capacity: Self.pagesPerHalf)
        unshare.reserveCapacity(Int(USWAP_MAX_UNSHARE))
    }

    deinit {
        let slots = self.slots
        table.forEachNonEmpty { _, state in
            if let slot = state.slot { slots.release(slot, swapIn: false) }
        }
        victims.deallocate()
        uswap_close(uffd)
        if socket >= 0 { uswap_close(socket) }
        indices.give(index)
    }

    /// Whether `address` lies in the agent's scratch area.
    @inline(__always)
    func inScratch(_ address: UInt64) -> Bool {
        address >= scratchBase && address < scratchBase + UInt64(Self.scratchPages * 4096)
    }

    /// The first page address of scratch half `half`.
    @inline(__always)
    func halfBase(_ half: Int) -> UInt64 { scratchBase + UInt64(half * Self.pagesPerHalf * 4096) }

    /// A free scratch half, or nil (evictor).
    var freeHalf: Int? { halves.firstIndex(of: .free) }

    /// A half holding pages to drop, or nil (evictor).
    var holdingHalf: Int? { halves.firstIndex(of: .holding) }

    /// Whether the mm behind the userfaultfd is gone (exit or exec): the kernel answers ESRCH.
    func processGone() -> Bool {
        uswap_probe_mm(uffd, scratchBase) == -ESRCH
    }

    /// Debug-only: the victim array is within bounds and the table's marks hold for the scratch.
    func checkInvariants() {
        #if DEBUG
        lock.withLock { precondition(victimCount >= 0 && victimCount <= Self.pagesPerHalf, "victim count \(victimCount)") }
        precondition(resident.load(ordering: .relaxed) >= 0, "negative resident count")
        table.checkInvariants(pages: (scratchBase >> 12)..<((scratchBase >> 12) + UInt64(Self.scratchPages)))
        #endif
    }
}
