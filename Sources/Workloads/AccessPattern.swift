/// One access of the workload: a byte of a page, read or incremented.
public struct Touch: Sendable, Equatable {
    /// The page index in the region.
    public var page: Int
    /// The byte offset inside the 4 KiB page.
    public var offset: Int
    /// Whether the byte is incremented (else it is read).
    public var isWrite: Bool

    /// A touch of byte `offset` of page `page`.
    public init(page: Int, offset: Int, isWrite: Bool) {
        self.page = page
        self.offset = offset
        self.isWrite = isWrite
    }
}

/// The stream of touches of one thread of swapbench.c's touch loop: each touch advances the
/// xorshift64 state once and takes the page from the ``PageLaw``, the byte offset from bits
/// 20... (`(x >> 20) % 4096`) and the write decision from bits 40... (`(x >> 40) % 100 < P`).
public struct AccessPattern: Sendable {
    /// The byte offsets are taken modulo this: swapbench.c's page size.
    public static let touchPageSize = 4096

    /// The page law shared by all threads.
    public let law: PageLaw
    /// The percentage of touches that write, 0...100.
    public let writePercent: UInt64
    private var generator: XorShift64

    /// The stream of thread `thread` (0 for a single thread, which is swapbench.c's stream):
    /// seeded with ``XorShift64/swapbenchSeed`` + `thread`.
    public init(law: PageLaw, writePercent: Int, thread: Int = 0) {
        precondition((0...100).contains(writePercent), "write percentage must be 0...100")
        self.law = law
        self.writePercent = UInt64(writePercent)
        self.generator = XorShift64(seed: XorShift64.swapbenchSeed &+ UInt64(thread))
    }

    /// The next touch.
    @inline(__always)
    public mutating func next() -> Touch {
        let x = generator.next()
        return Touch(
            page: law.page(for: x),
            offset: Int((x >> 20) % UInt64(Self.touchPageSize)),
            isWrite: writePercent != 0 && (x >> 40) % 100 < writePercent)
    }
}
