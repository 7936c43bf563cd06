import Synchronization
import SystemPackage
import TestSupport
import Testing

@testable import SystemSupport

@Suite struct MonotonicClockTests {
    @Test func readingsNeverGoBackwardAndAgreeAcrossUnits() {
        let a = MonotonicClock.nanoseconds()
        sleepMicroseconds(2000)
        let b = MonotonicClock.nanoseconds()
        #expect(b - a >= 2_000_000)
        let seconds = MonotonicClock.seconds()
        #expect(abs(seconds - Double(MonotonicClock.nanoseconds()) * 1e-9) < 0.01)
        #expect(MonotonicClock.wholeSeconds() == Int(seconds) || MonotonicClock.wholeSeconds() == Int(seconds) + 1)
    }

    @Test func realtimeDeadlineCarriesNanosecondsIntoSeconds() {
        let deadline = RealtimeDeadline.after(nanoseconds: 1_999_999_999)
        #expect(deadline.tv_nsec >= 0 && deadline.tv_nsec < 1_000_000_000)
        var now = timespec()
        _ = clock_gettime(CLOCK_REALTIME, &now)
        let delta = Double(deadline.tv_sec - now.tv_sec) + Double(deadline.tv_nsec - now.tv_nsec) * 1e-9
        #expect(delta > 1.9 && delta < 2.1)
    }
}

@Suite struct ResourceUsageTests {
    @Test func cpuTimeGrowsWithWork() {
        let before = ResourceUsage.now()
        var x: UInt64 = 1
        for i in 0..<20_000_000 { x = x &* 6364136223846793005 &+ UInt64(i) }
        #expect(x != 0)
        let after = ResourceUsage.now()
        #expect(after.cpuSeconds > before.cpuSeconds)
        #expect(after.maxResidentBytes > 1 << 20)
        #expect(ResourceUsage.now(.thread).cpuSeconds <= after.cpuSeconds + 0.01)
    }
}

@Suite struct NativeThreadTests {
    @Test func startRunsTheClosureAndJoinWaitsForIt() throws {
        let done = Atomic<Int>(0)
        let thread = try NativeThread.start { done.store(42, ordering: .releasing) }
        thread.join()
        #expect(done.load(ordering: .acquiring) == 42)
    }

    @Test func runAllRunsEveryIndexOnce() {
        let hits = Mutex<[Int]>([])
        NativeThread.runAll(6) { i in hits.withLock { $0.append(i) } }
        #expect(hits.withLock { $0.sorted() } == Array(0..<6))
    }

    @Test func threadsHaveDistinctHints() throws {
        let other = Atomic<Int>(0)
        try NativeThread.start { other.store(NativeThread.currentHint(), ordering: .releasing) }.join()
        #expect(other.load(ordering: .acquiring) != NativeThread.currentHint())
        #expect(NativeThread.processorCount >= 1)
    }
}

extension NativeThreadTests {
    @Test func threadsWhoseIdsAreStacksApartGetDifferentSlots() {
        // Default thread stacks are 8 MiB apart: the old (hint >> 8) % count gave all one slot.
        let base = 0x7f12_3456_7000
        for count in [2, 4, 8] {
            let slots = Set((0..<count * 4).map { NativeThread.slot(of: base + $0 << 23, count: count) })
            #expect(slots.count == count, "\(count) slots: \(slots.sorted())")
            #expect(slots.allSatisfy { (0..<count).contains($0) })
        }
        #expect(NativeThread.slot(of: -1, count: 3) >= 0)  // a hint with the top bit set
        #expect((0..<5).contains(NativeThread.currentSlot(count: 5)))
    }
}

@Suite struct SpinTests {
    @Test func spinWaitYieldsOnceEveryYieldAfterRounds() {
        var wait = SpinWait(yieldAfter: 4)
        for _ in 0..<11 { wait.spin() }
        #expect(wait.yields == 2)
    }
}

@Suite struct ProcFileTests {
    @Test func readsAGeneratedFileWholeAndFailsWithErrno() throws {
        let status = try ProcFile.read("/proc/self/status")
        #expect(status.contains("VmRSS:"))
        #expect(throws: Errno.noSuchFileOrDirectory) { try ProcFile.read("/proc/no-such-file-here") }
        #expect(throws: Errno.self) { try ProcFile.write("1", to: "/proc/self/no-such-knob") }
    }

    @Test func writeReplacesAFilesText() throws {
        let path = "/tmp/systemsupport-\(getpid())-write.txt"
        defer { unlink(path) }
        close(open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600))
        try ProcFile.write("hello, longer", to: path)
        #expect(try ProcFile.read(path) == "hello, longer")
        try ProcFile.write("hello", to: path)
        #expect(try ProcFile.read(path) == "hello")
    }

    @Test func valuesAreReadWithoutTheirNewlineAndPadding() throws {
        let path = "/tmp/systemsupport-\(getpid())-value.txt"
        defer { unlink(path) }
        close(open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600))
        try ProcFile.write(" 42\n", to: path)
        #expect(try ProcFile.readValue(path) == "42")
        #expect(ProcFile.trimmed("\t 8 9 \n\n") == "8 9" && ProcFile.trimmed("  ") == "" && ProcFile.trimmed("x") == "x")
    }

    @Test func meminfoParsesKilobytesAndBareNumbers() {
        let text = "MemTotal:       24576000 kB\nZswap:          1234 kB\nHugePages_Total:       3\nbroken line\nBad:   x kB\n"
        let fields = MemInfo.parse(text)
        #expect(fields["MemTotal"] == 24_576_000 * 1024)
        #expect(fields["Zswap"] == 1234 * 1024)
        #expect(fields["HugePages_Total"] == 3)
        #expect(fields["Bad"] == nil)
        #expect(MemInfo.totalBytes() > 1 << 28)
    }
}

@Suite struct SystemCallTests {
    @Test func retryingReturnsResultsAndThrowsTypedErrno() throws {
        #expect(try SystemCall.retrying { getpid() } == getpid())
        #expect(throws: Errno.badFileDescriptor) { try SystemCall.retrying { close(-1) } }
        #expect(throws: Errno.resourceTemporarilyUnavailable) { try SystemCall.check(EAGAIN) }
        try SystemCall.check(0)
    }

    @Test func retryingRetriesEINTR() throws {
        final class Calls { var count = 0 }
        let calls = Calls()
        let result = try SystemCall.retrying { () -> Int32 in
            calls.count += 1
            if calls.count < 3 { errno = EINTR; return -1 }
            return 7
        }
        #expect(result == 7 && calls.count == 3)
    }
}

@Suite struct AnonymousMappingTests {
    @Test func mapsRoundedPagesAndDiscardReadsZeros() throws {
        let page = AnonymousMapping.pageSize
        let mapping = try AnonymousMapping(size: 3 * page - 100)
        #expect(mapping.size == 3 * page)
        let bytes = mapping.base.assumingMemoryBound(to: UInt8.self)
        for i in 0..<mapping.size { bytes[i] = 0xAB }
        mapping.discard(offset: page, length: page)
        #expect(bytes[page - 1] == 0xAB && bytes[page] == 0 && bytes[2 * page - 1] == 0 && bytes[2 * page] == 0xAB)
    }

    @Test func zeroSizeIsRefused() {
        #expect(throws: Errno.invalidArgument) { _ = try AnonymousMapping(size: 0) }
    }

    @Test func releaseHandsTheRangeOverWithoutUnmapping() throws {
        let mapping = try AnonymousMapping(size: 4096)
        let range = mapping.release()
        range[0] = 9  // still mapped after the owner is gone
        #expect(range[0] == 9)
        munmap(range.baseAddress, range.count)
    }
}

@Suite struct DirectIOFlagTests {
    @Test func enableSetsTheFlagOnADescriptorOrSaysWhyNot() throws {
        #if os(Linux)
        let path = "/var/tmp/systemsupport-\(getpid())-direct"
        let fd = open(path, O_CREAT | O_RDWR | O_EXCL, 0o600)
        try #require(fd >= 0)
        defer { close(fd); unlink(path) }
        let result = Result { () throws(Errno) in try DirectIOFlag.enable(on: fd) }
        if case .failure(let error) = result, error == .invalidArgument {
            CIGate.unavailable("O_DIRECT: /var/tmp's file system has no direct I/O")
        } else {
            try result.get()
            #expect(fcntl(fd, F_GETFL) & DirectIOFlag.rawValue! != 0)
        }
        #expect(throws: Errno.badFileDescriptor) { try DirectIOFlag.enable(on: -1) }
        #endif
    }
}
