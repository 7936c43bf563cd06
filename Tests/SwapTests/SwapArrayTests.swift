import PageStore
import Synchronization
import SystemSupport
import Testing
import TestSupport
@testable import Swap

/// A struct that does not divide a page: elements straddle page boundaries.
struct Particle: BitwiseCopyable, Equatable {
    var position: (Double, Double, Double)
    var charge: Int32
    var spin: Int32
    var tag: UInt8

    init(_ i: Int) {
        position = (Double(i), Double(i) * 0.5, -Double(i))
        charge = Int32(truncatingIfNeeded: i &* 7)
        spin = Int32(truncatingIfNeeded: i &* -3)
        tag = UInt8(truncatingIfNeeded: i)
    }

    static func == (a: Particle, b: Particle) -> Bool {
        a.position == b.position && a.charge == b.charge && a.spin == b.spin && a.tag == b.tag
    }
}

@Suite(.serialized) struct SwapArrayTests {
    @Test func elementsSurviveSwapOutAndSwapIn() throws {
        guard userfaultfdAvailable() else { return }
        let count = 1 << 20  // 8 MiB of UInt64 in 1 MiB of memory
        let backend = MemoryBackend(slotCount: 4096)
        let array = try SwapArray<UInt64>(repeating: 0, count: count, residentLimit: 1 << 20, backend: backend)
        for i in 0..<count { array[i] = UInt64(i) &* 0x9E37_79B9_7F4A_7C15 }
        var wrong = 0
        for i in 0..<count where array[i] != UInt64(i) &* 0x9E37_79B9_7F4A_7C15 { wrong += 1 }
        #expect(wrong == 0)
        let s = array.region.statistics
        #expect(s.swapOuts > 1000 && s.swapIns > 1000)
        #expect(s.residentMaxPages <= 256)
        array.region.checkInvariants()
    }

    @Test func elementsThatStraddlePagesComeBackWhole() throws {
        guard userfaultfdAvailable() else { return }
        #expect(4096 % MemoryLayout<Particle>.stride != 0)
        let count = 100_000
        let array = try SwapArray(repeating: Particle(-1), count: count, residentLimit: 256 << 10, backend: MemoryBackend(slotCount: 2048))
        #expect(array[count - 1] == Particle(-1), "the repeated value fills every element")
        for i in stride(from: 0, to: count, by: 3) { array[i] = Particle(i) }
        for i in 0..<count { #expect(array[i] == (i % 3 == 0 ? Particle(i) : Particle(-1))) }
        #expect(array.region.statistics.swapIns > 0)
        array.region.checkInvariants()
    }

    @Test func spansReadAndWriteEveryElement() throws {
        guard userfaultfdAvailable() else { return }
        let count = 300_000
        let array = try SwapArray<Int32>(repeating: 1, count: count, residentLimit: 128 << 10, backend: MemoryBackend(slotCount: 1024))
        array.withMutableSpan { span in
            #expect(span.count == count)
            for i in span.indices { span[i] += Int32(i % 1000) }
        }
        let total = array.withSpan { span in span.indices.reduce(0) { $0 + Int(span[$1]) } }
        let expected = (0..<count).reduce(0) { $0 + 1 + $1 % 1000 }
        #expect(total == expected)
        #expect(array.reduce(0) { $0 + Int($1) } == expected, "the collection's iteration agrees")
        #expect(array.region.statistics.swapOuts > 0)
    }

    @Test func severalThreadsFillTheirOwnElements() throws {
        guard userfaultfdAvailable() else { return }
        let count = 1 << 19
        let array = try SwapArray<UInt64>(repeating: 0, count: count, residentLimit: 512 << 10, backend: MemoryBackend(slotCount: 2048))
        NativeThread.runAll(4) { t in
            for round in 0..<2 {
                for i in stride(from: t, to: count, by: 4) { array[i] = UInt64(i * 10 + round) }
            }
        }
        let wrong = Atomic<Int>(0)
        NativeThread.runAll(4) { t in
            // Each thread checks another thread's elements: the joins ordered the writes.
            for i in stride(from: (t + 1) % 4, to: count, by: 4) where array[i] != UInt64(i * 10 + 1) {
                wrong.add(1, ordering: .relaxed)
            }
        }
        #expect(wrong.load(ordering: .relaxed) == 0)
        #expect(array.region.statistics.failedFaults == 0)
        array.region.checkInvariants()
    }

    @Test(arguments: [-1, 10, Int.max])
    func aBadIndexIsATypedErrorAndStoresNothing(index: Int) throws {
        guard userfaultfdAvailable() else { return }
        let array = try SwapArray<UInt16>(repeating: 3, count: 10, residentLimit: 64 << 10, backend: MemoryBackend(slotCount: 64))
        #expect(throws: SwapError.indexOutOfBounds(index: index, count: 10)) { try array.element(at: index) }
        #expect(throws: SwapError.indexOutOfBounds(index: index, count: 10)) { try array.setElement(9, at: index) }
        #expect(array.allSatisfy { $0 == 3 })
        try array.setElement(4, at: 9)
        #expect(try array.element(at: 9) == 4)
        #expect(SwapError.indexOutOfBounds(index: index, count: 10).description.contains("0..<10"))
    }

    @Test func aClosedArraysAccessorsReportClosed() throws {
        guard userfaultfdAvailable() else { return }
        let array = try SwapArray<UInt8>(repeating: 1, count: 5000, residentLimit: 64 << 10, backend: MemoryBackend(slotCount: 64))
        array.region.close()
        #expect(throws: SwapError.closed) { try array.element(at: 0) }
        #expect(throws: SwapError.closed) { try array.setElement(0, at: 0) }
    }

    @Test(arguments: [0, -3])
    func anArrayWithoutElementsIsRefused(count: Int) {
        #expect(throws: SwapError.invalidConfiguration("a swap array of \(count) elements: give at least 1")) {
            _ = try SwapArray<UInt8>(repeating: 0, count: count, residentLimit: 64 << 10, backend: MemoryBackend(slotCount: 64))
        }
    }

    @Test func anArrayTooLargeForMemoryIsRefused() {
        #expect(throws: SwapError.self) {
            _ = try SwapArray<UInt64>(repeating: 0, count: Int.max / 4, residentLimit: 64 << 10, backend: MemoryBackend(slotCount: 64))
        }
    }

    /// The subscript traps like Array's: in a process of its own.
    @Test(arguments: [100_000, -1])
    func aSubscriptOutOfBoundsTraps(index: Int) async throws {
        guard userfaultfdAvailable() else { return }
        let run = try await HelperProcess.run("USwapFaultHelper", ["array-index", "--count", "100000", "--index=\(index)"])
        #expect(run.output.contains("array: count=100000"), "\(run.output)")
        #expect(run.signal == SIGILL || run.signal == SIGTRAP, "exit \(String(describing: run.exitCode)), output: \(run.output)")
        #expect(run.output.contains("index \(index) is out of bounds"))
        #expect(!run.output.contains("value:"))
    }

    @Test func aSubscriptInBoundsReadsInTheHelper() async throws {
        guard userfaultfdAvailable() else { return }
        let run = try await HelperProcess.run("USwapFaultHelper", ["array-index", "--count", "100000", "--index", "99999"])
        #expect(run.exitCode == 0, "\(run.output)")
        #expect(run.output.contains("value: 7"))
    }
}
