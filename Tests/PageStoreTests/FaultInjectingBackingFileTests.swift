#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
@testable import PageStore

@Suite struct FaultInjectingBackingFileTests {
    func makeFile() throws -> FaultInjectingBackingFile {
        FaultInjectingBackingFile(wrapping: try BackingFile.temporary(blockCount: 16))
    }

    @Test func withoutRulesCallsPassThrough() throws {
        let file = try makeFile()
        try patternPage(3).withUnsafeBytes { try file.writeBlock($0, at: 3) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        try buffer.withUnsafeMutableBytes { try file.readBlock(3, into: $0) }
        #expect(buffer == patternPage(3))
        #expect(file.calls(.read) == 1 && file.calls(.write) == 1)
        #expect(file.injectedFaults(.read) == 0)
        #expect(file.ioCounters.writes == 1)
    }

    @Test func anErrorOnABlockFailsOnlyThatBlockWithTheChosenErrno() throws {
        let file = try makeFile()
        file.inject(.error(errno: EIO), on: .read, when: .block(5))
        var buffer = [UInt8](repeating: 0, count: 4096)
        try buffer.withUnsafeMutableBytes { try file.readBlock(4, into: $0) }
        let error = #expect(throws: PageStoreError.self) {
            try buffer.withUnsafeMutableBytes { try file.readBlock(5, into: $0) }
        }
        guard case .io(EIO, _)? = error else { Issue.record("wrong error \(String(describing: error))"); return }
        #expect(file.injectedFaults(.read) == 1)
        file.clearFaults()
        try buffer.withUnsafeMutableBytes { try file.readBlock(5, into: $0) }
    }

    @Test func theNthWriteFailsOnceAndLeavesTheBlockUntouched() throws {
        let file = try makeFile()
        file.inject(.error(errno: ENOSPC), on: .write, when: .call(2), times: 1)
        try patternPage(0).withUnsafeBytes { try file.writeBlock($0, at: 0) }
        #expect(throws: PageStoreError.io(errno: ENOSPC, operation: "write of block 0 (injected fault)")) {
            try patternPage(1).withUnsafeBytes { try file.writeBlock($0, at: 0) }
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        try buffer.withUnsafeMutableBytes { try file.readBlock(0, into: $0) }
        #expect(buffer == patternPage(0))
        try patternPage(1).withUnsafeBytes { try file.writeBlock($0, at: 0) }  // third call passes
        #expect(file.calls(.write) == 3)
        #expect(file.injectedFaults(.write) == 1)
    }

    @Test func aShortReadThrowsAndFillsOnlyHalfTheBuffer() throws {
        let file = try makeFile()
        try patternPage(2).withUnsafeBytes { try file.writeBlock($0, at: 2) }
        file.inject(.short, on: .read, when: .blocks(0..<4), times: 1)
        var buffer = [UInt8](repeating: 0, count: 4096)
        let error = #expect(throws: PageStoreError.self) {
            try buffer.withUnsafeMutableBytes { try file.readBlock(2, into: $0) }
        }
        guard case .io(EIO, _)? = error else { Issue.record("wrong error \(String(describing: error))"); return }
        #expect(Array(buffer[..<2048]) == Array(patternPage(2)[..<2048]))
        #expect(buffer[2048...].allSatisfy { $0 == 0xA5 })
    }

    @Test func aShortWriteTearsTheBlock() throws {
        let file = try makeFile()
        try patternPage(1).withUnsafeBytes { try file.writeBlock($0, at: 1) }
        file.inject(.short, on: .write, times: 1)
        #expect(throws: PageStoreError.self) { try patternPage(2).withUnsafeBytes { try file.writeBlock($0, at: 1) } }
        var buffer = [UInt8](repeating: 0, count: 4096)
        try buffer.withUnsafeMutableBytes { try file.base.readBlock(1, into: $0) }
        #expect(Array(buffer[..<2048]) == Array(patternPage(2)[..<2048]))
        #expect(Array(buffer[2048...]) == Array(patternPage(1)[2048...]))
    }

    @Test func aCorruptReadSucceedsWithOneByteChanged() throws {
        let file = try makeFile()
        try patternPage(6).withUnsafeBytes { try file.writeBlock($0, at: 6) }
        file.inject(.corrupt, on: .read, when: .block(6), times: 1)
        var buffer = [UInt8](repeating: 0, count: 4096)
        try buffer.withUnsafeMutableBytes { try file.readBlock(6, into: $0) }
        #expect(zip(buffer, patternPage(6)).filter { $0 != $1 }.count == 1)
        try buffer.withUnsafeMutableBytes { try file.readBlock(6, into: $0) }
        #expect(buffer == patternPage(6))
    }

    @Test func afterCallsFailsEveryLaterCall() throws {
        let file = try makeFile()
        file.inject(.error(errno: EIO), on: .sync, when: .afterCalls(1))
        try file.sync()
        #expect(throws: PageStoreError.self) { try file.sync() }
        #expect(throws: PageStoreError.self) { try file.sync() }
        #expect(file.injectedFaults(.sync) == 2)
    }

    @Test func punchFaultsHitHolesCoveringTheBlock() throws {
        let file = try makeFile()
        file.inject(.error(errno: EOPNOTSUPP), on: .punch, when: .block(10))
        _ = try file.punchHole(at: 0, count: 4)
        #expect(throws: PageStoreError.self) { _ = try file.punchHole(at: 8, count: 4) }
    }

    @Test func aDelayedReadStillReturnsTheData() throws {
        let file = try makeFile()
        try patternPage(4).withUnsafeBytes { try file.writeBlock($0, at: 4) }
        file.inject(.delay(microseconds: 20_000), on: .read, when: .block(4))
        var start = timespec(), end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        var buffer = [UInt8](repeating: 0, count: 4096)
        try buffer.withUnsafeMutableBytes { try file.readBlock(4, into: $0) }
        clock_gettime(CLOCK_MONOTONIC, &end)
        let elapsed = (end.tv_sec - start.tv_sec) * 1_000_000_000 + (end.tv_nsec - start.tv_nsec)
        #expect(elapsed >= 20_000_000)
        #expect(buffer == patternPage(4))
    }
}
