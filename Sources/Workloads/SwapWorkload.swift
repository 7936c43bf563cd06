import Synchronization
import SystemSupport

/// The work of `../shared/tools/swapbench.c` on any page-addressable memory (a SwapRegion's
/// region, or plain anonymous memory under the kernel's swap): fill with corpus pages, touch,
/// then verify every page against a model of what the touches wrote. `uswap bench swap` and its
/// kernel child run exactly this code, so both sides do the same work.
public struct SwapWorkload: Sendable {
    /// swapbench.c's page size: pages of the region and of the corpus are 4 KiB.
    public static let pageSize = AccessPattern.touchPageSize

    /// Pages in the region.
    public let pageCount: Int
    /// Touches in total (split between threads).
    public let touches: Int
    /// Percentage of touches that write (increment one byte).
    public let writePercent: Int
    /// The Zipf exponent (0 = uniform).
    public let zipf: Double
    /// Application threads, each running its own stream (seed + thread index).
    public let threads: Int

    /// A workload; `sizeBytes` must be a positive multiple of 4 KiB.
    public init(sizeBytes: Int, touches: Int, writePercent: Int, zipf: Double, threads: Int = 1)
        throws(SwapWorkloadError)
    {
        guard sizeBytes > 0, sizeBytes % Self.pageSize == 0 else { throw .invalid("size \(sizeBytes) bytes is not a positive multiple of 4096") }
        guard touches >= 0 else { throw .invalid("touches must be >= 0, got \(touches)") }
        guard (0...100).contains(writePercent) else { throw .invalid("write percentage must be 0...100, got \(writePercent)") }
        guard zipf >= 0, zipf.isFinite else { throw .invalid("Zipf exponent must be a finite number >= 0, got \(zipf)") }
        guard (1...256).contains(threads) else { throw .invalid("threads must be 1...256, got \(threads)") }
        self.pageCount = sizeBytes / Self.pageSize
        self.touches = touches
        self.writePercent = writePercent
        self.zipf = zipf
        self.threads = threads
    }

    /// The region size in bytes.
    public var sizeBytes: Int { pageCount * Self.pageSize }

    /// How many touches thread `thread` makes: an even share, the remainder to the first threads.
    public func touches(ofThread thread: Int) -> Int {
        touches / threads + (thread < touches % threads ? 1 : 0)
    }

    // MARK: Fill

    /// Copies corpus page `i % corpusPages` into region page `i` for every page, as swapbench.c
    /// does; `progress` is called now and then with the pages done.
    public func fill(
        _ region: UnsafeMutableRawPointer, corpus: UnsafeRawBufferPointer,
        progress: (Int) -> Void = { _ in }
    ) throws(SwapWorkloadError) {
        let corpusPages = corpus.count / Self.pageSize
        guard corpusPages > 0, let source = corpus.baseAddress else {
            throw .invalid("the corpus holds \(corpus.count) bytes: at least one 4 KiB page is needed")
        }
        for i in 0..<pageCount {
            (region + i * Self.pageSize).copyMemory(
                from: source + (i % corpusPages) * Self.pageSize, byteCount: Self.pageSize)
            if i & 0x3FFF == 0x3FFF { progress(i + 1) }
        }
        progress(pageCount)
    }

    // MARK: Touch

    /// What the touch phase measured.
    public struct TouchResult: Sendable {
        /// Wall time of the phase, seconds.
        public var seconds: Double
        /// User + system CPU of the whole process over the phase, seconds.
        public var cpuSeconds: Double
        /// `ru_majflt` over the phase (the kernel's swap-ins when it is the kernel's memory).
        public var majorFaults: Int
        /// The sum of the bytes read (kept so that no read can be optimised away).
        public var sink: UInt64
    }

    /// Makes the touches on `region` (``pageCount`` pages) and times them: the law is built
    /// first (as swapbench.c builds it before its clock starts), `beforeTiming` runs just before
    /// the clock starts (reset counters there), `progress` is called from thread 0 with an
    /// estimate of the touches done.
    public func touch(
        _ region: UnsafeMutableRawPointer, beforeTiming: () -> Void = {},
        progress: @escaping @Sendable (Int) -> Void = { _ in }
    ) -> TouchResult {
        let law = PageLaw(pageCount: pageCount, zipf: zipf)
        let base = UnsafeMutableRawPointerBox(region)
        let sink = Atomic<UInt64>(0)
        beforeTiming()
        let r0 = ResourceUsage.now()
        let t0 = MonotonicClock.seconds()
        if threads == 1 {
            sink.store(Self.touchStream(base.pointer, law: law, writePercent: writePercent, thread: 0,
                                        count: touches, atomicWrites: false, progress: progress),
                       ordering: .relaxed)
        } else {
            let counts = (0..<threads).map { touches(ofThread: $0) }
            let writePercent = writePercent
            NativeThread.runAll(threads) { thread in
                let s = Self.touchStream(
                    base.pointer, law: law, writePercent: writePercent, thread: thread,
                    count: counts[thread], atomicWrites: true,
                    progress: thread == 0 ? { progress($0 * counts.count) } : { _ in })
                sink.wrappingAdd(s, ordering: .relaxed)
            }
        }
        let t1 = MonotonicClock.seconds()
        let r1 = ResourceUsage.now()
        return TouchResult(
            seconds: t1 - t0, cpuSeconds: r1.cpuSeconds - r0.cpuSeconds,
            majorFaults: r1.majorFaults - r0.majorFaults, sink: sink.load(ordering: .relaxed))
    }

    /// One thread's touch loop: swapbench.c's loop body. With several threads writes are atomic
    /// byte increments, so that two threads incrementing one byte lose nothing and the model
    /// stays exact.
    private static func touchStream(
        _ region: UnsafeMutableRawPointer, law: PageLaw, writePercent: Int, thread: Int, count: Int,
        atomicWrites: Bool, progress: (Int) -> Void
    ) -> UInt64 {
        var pattern = AccessPattern(law: law, writePercent: writePercent, thread: thread)
        var sink: UInt64 = 0
        for k in 0..<count {
            let t = pattern.next()
            let byte = region + (t.page * pageSize + t.offset)
            if t.isWrite {
                if atomicWrites {
                    byte.assumingMemoryBound(to: Atomic<UInt8>.self).pointee.wrappingAdd(1, ordering: .relaxed)
                } else {
                    let p = byte.assumingMemoryBound(to: UInt8.self)
                    p.pointee &+= 1
                }
            } else {
                sink &+= UInt64(byte.load(as: UInt8.self))
            }
            if k & 0xFFFF == 0xFFFF { progress(k + 1) }
        }
        progress(count)
        return sink
    }

    // MARK: Model and verification

    /// What verification found.
    public struct Verification: Sendable, Equatable {
        /// Pages compared.
        public var pages: Int
        /// Pages that differ from the model.
        public var mismatches: Int
        /// The first page that differs, if any.
        public var firstMismatch: Int?

        /// A verification of `pages` pages, `mismatches` of which differ, the first at `firstMismatch`.
        public init(pages: Int, mismatches: Int, firstMismatch: Int?) {
            self.pages = pages
            self.mismatches = mismatches
            self.firstMismatch = firstMismatch
        }
        /// Whether every byte matched.
        public var verified: Bool { mismatches == 0 }
    }

    /// The model of what the touch phase wrote, rebuilt by replaying the generators (so the model
    /// does not depend on the loop it checks): one entry per write, `page << 12 | offset`, sorted.
    /// A compact model: 8 bytes per write instead of a copy of the region.
    public func writeModel() -> [UInt64] {
        let law = PageLaw(pageCount: pageCount, zipf: zipf)
        var writes: [UInt64] = []
        writes.reserveCapacity(touches * writePercent / 100 + touches / 50 + 16)
        for thread in 0..<threads {
            var pattern = AccessPattern(law: law, writePercent: writePercent, thread: thread)
            for _ in 0..<touches(ofThread: thread) {
                let t = pattern.next()
                if t.isWrite { writes.append(UInt64(t.page) << 12 | UInt64(t.offset)) }
            }
        }
        writes.sort()
        return writes
    }

    /// Compares every page of `region` with the model: corpus page `i % corpusPages` plus one
    /// (wrapping) per write to each byte. Reads region memory only (on a SwapRegion that faults
    /// pages in, which frees nothing it should not); `progress` gets the pages done.
    public func verify(
        _ region: UnsafeRawPointer, corpus: UnsafeRawBufferPointer, writes: [UInt64],
        progress: (Int) -> Void = { _ in }
    ) throws(SwapWorkloadError) -> Verification {
        let corpusPages = corpus.count / Self.pageSize
        guard corpusPages > 0, let source = corpus.baseAddress else {
            throw .invalid("the corpus holds \(corpus.count) bytes: at least one 4 KiB page is needed")
        }
        let expected = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.pageSize, alignment: 64)
        defer { expected.deallocate() }
        var result = Verification(pages: pageCount, mismatches: 0, firstMismatch: nil)
        var w = 0
        writes.withUnsafeBufferPointer { writes in
            for page in 0..<pageCount {
                let corpusPage = source + (page % corpusPages) * Self.pageSize
                let actual = region + page * Self.pageSize
                var same: Bool
                if w < writes.count, Int(writes[w] >> 12) == page {
                    expected.baseAddress!.copyMemory(from: corpusPage, byteCount: Self.pageSize)
                    while w < writes.count, Int(writes[w] >> 12) == page {
                        let offset = Int(writes[w] & 0xFFF)
                        expected[offset] &+= 1
                        w += 1
                    }
                    same = memcmp(expected.baseAddress!, actual, Self.pageSize) == 0
                } else {
                    same = memcmp(corpusPage, actual, Self.pageSize) == 0
                }
                if !same {
                    result.mismatches += 1
                    if result.firstMismatch == nil { result.firstMismatch = page }
                }
                if page & 0x3FFF == 0x3FFF { progress(page + 1) }
            }
        }
        progress(pageCount)
        return result
    }
}

/// A raw pointer that threads of one workload share; the workload's caller owns the memory and
/// keeps it mapped until ``SwapWorkload/touch(_:beforeTiming:progress:)`` returns.
private struct UnsafeMutableRawPointerBox: @unchecked Sendable {
    /// The shared pointer.
    let pointer: UnsafeMutableRawPointer
    /// Wraps `pointer`.
    init(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }
}
