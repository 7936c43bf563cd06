import CProcessPager
import Swap
import Synchronization
import SystemPackage
import SystemSupport

/// What the evictor tells the fault reader.
enum ReaderCommand: @unchecked Sendable {
    // @unchecked Sendable: a Session is Sendable; the enum carries nothing else.
    /// Start serving this session's userfaultfd.
    case add(Session)
    /// Stop serving session `index` and let it go.
    case remove(Int)
}

/// What the fault reader tells the evictor.
enum EvictorCommand: @unchecked Sendable {
    // @unchecked Sendable: as ReaderCommand.
    /// A fork made this child session (its agent will say hello).
    case childCreated(Session)
    /// Reading this session's userfaultfd failed: end it.
    case failed(Int)
}

/// A queue of commands from one pager thread to another, with the eventfd that wakes the
/// receiver's epoll. Commands are rare (sessions starting and ending), so an array under a mutex
/// is enough; no page operation goes through here.
final class CommandQueue<Command: Sendable>: Sendable {
    private let items = Mutex<[Command]>([])
    /// The eventfd the receiver polls.
    let eventfd: Int32

    init() throws(PagerError) {
        let fd = uswap_eventfd()
        guard fd >= 0 else { throw .resource("an eventfd", Errno(rawValue: -fd)) }
        eventfd = fd
    }

    deinit { uswap_close(eventfd) }

    func post(_ command: Command) {
        items.withLock { $0.append(command) }
        uswap_eventfd_signal(eventfd)
    }

    /// Wakes the receiver without a command.
    func nudge() { uswap_eventfd_signal(eventfd) }

    func drain() -> [Command] {
        _ = uswap_eventfd_drain(eventfd)
        return items.withLock { items in
            defer { items.removeAll(keepingCapacity: true) }
            return items
        }
    }
}

/// What the pager's threads share: the configuration, the slots, the clock of resident pages,
/// the counters and the command queues.
final class PagerCore: Sendable {
    let configuration: PagerConfiguration
    let slots: SlotSpace
    let ring: ResidentRing
    let counters: PagerCounters
    let latency = LatencyHistogram()
    let indices = SessionIndices()
    let toReader: CommandQueue<ReaderCommand>
    let toEvictor: CommandQueue<EvictorCommand>
    /// The evictor ends its loop (the pager stops; set before ``readerStopping``).
    let evictorStopping = Atomic<Bool>(false)
    /// The reader ends its loop (set once the evictor has ended: see ``ProcessPager/stop()``).
    let readerStopping = Atomic<Bool>(false)
    /// Process ids of the sessions by index (written by the evictor), for sampling.
    let processIDs = Mutex<[Int: Int32]>([:])
    /// `configuration.policy == .lazy`: swapped-in pages keep their slot and are mapped
    /// write-protected.
    let lazy: Bool

    init(configuration: PagerConfiguration, slots: SlotSpace) throws(PagerError) {
        self.configuration = configuration
        self.slots = slots
        lazy = configuration.policy == .lazy
        // Valid entries never exceed the resident pages (fork children's shared pages count in
        // each process); twice the limit leaves room for stale entries between the evictor's laps.
        ring = ResidentRing(minimumCapacity: 2 * configuration.limitPages + 16_384)
        counters = PagerCounters(capPages: configuration.limitPages)
        toReader = try CommandQueue()
        toEvictor = try CommandQueue()
    }

    /// Resident + scratch pages against the cap now.
    @inline(__always)
    var usedPages: Int {
        counters.resident.load(ordering: .relaxed) + counters.scratch.load(ordering: .relaxed)
    }

    /// The refault distance threshold, in eviction epochs: pages refaulted within one limit's
    /// worth of evictions count as referenced.
    @inline(__always)
    var refaultEpochs: UInt64 { UInt64(max(1, configuration.limitPages >> Int(PageState.epochShift))) }

    /// Laps of the clock a page that refaulted `distance` epochs after its eviction is skipped
    /// (``PagerConfiguration/refaultHeat(distance:threshold:)`` with ``refaultEpochs``).
    @inline(__always)
    func refaultHeat(distance: UInt64) -> Int {
        configuration.refaultHeat(distance: distance, threshold: refaultEpochs)
    }

    /// The current eviction epoch (15 bits).
    @inline(__always)
    var epoch: UInt64 { (UInt64(counters.evictions.load(ordering: .relaxed)) >> PageState.epochShift) & 0x7FFF }
}

/// The text `uswap status` clients get, set by whoever runs the pager.
final class StatusSource: Sendable {
    private let provider = Mutex<(@Sendable () -> String)?>(nil)

    func set(_ provider: @escaping @Sendable () -> String) { self.provider.withLock { $0 = provider } }

    /// Lets the provider go (it may hold the pager: a cycle otherwise).
    func clear() { provider.withLock { $0 = nil } }

    /// The provider's text, or `{}` without one.
    func text() -> String {
        let current = provider.withLock { $0 }
        return current?() ?? "{}"
    }
}
