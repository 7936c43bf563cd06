#if os(Linux)
import Glibc
import SystemPackage
import SystemSupport
import Testing
@testable import Swap

@Suite struct PageDiscarderTests {
    let pageSize = AnonymousMapping.pageSize

    /// A mapping of `pages` pages, each filled with its number plus one.
    func filledMapping(pages: Int) throws -> AnonymousMapping {
        let mapping = try AnonymousMapping(size: pages * pageSize, reserveOnly: false)
        for p in 0..<pages { memset(mapping.base + p * pageSize, Int32(p + 1), pageSize) }
        return mapping
    }

    func firstByte(_ mapping: borrowing AnonymousMapping, page: Int) -> UInt8 {
        mapping.base.load(fromByteOffset: page * pageSize, as: UInt8.self)
    }

    func range(_ mapping: borrowing AnonymousMapping, page: Int, pages: Int = 1) -> iovec {
        iovec(iov_base: mapping.base + page * pageSize, iov_len: pages * pageSize)
    }

    @Test func everyRangeIsDroppedAndTheOthersKeepTheirContents() throws {
        let discarder = PageDiscarder()
        discarder.checkInvariants()
        let mapping = try filledMapping(pages: 8)
        let ranges = [range(mapping, page: 1), range(mapping, page: 3, pages: 2), range(mapping, page: 7)]
        #expect(ranges.withUnsafeBufferPointer { discarder.discard($0) } == nil)
        let dropped: Set = [1, 3, 4, 7]
        for p in 0..<8 {
            #expect(firstByte(mapping, page: p) == (dropped.contains(p) ? 0 : UInt8(p + 1)), "page \(p)")
        }
        discarder.checkInvariants()
    }

    @Test func thisKernelDropsManyRangesInOneCall() {
        // Linux 6.18 takes MADV_DONTNEED through process_madvise on the calling process.
        let discarder = PageDiscarder()
        var release = utsname()
        uname(&release)
        let version = withUnsafeBytes(of: &release.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let parts = version.split(separator: ".").compactMap { Int($0.prefix { $0.isNumber }) }
        if parts.count >= 2 && (parts[0], parts[1]) >= (6, 13) {
            let batched = discarder.isBatched
            #expect(batched, "kernel \(version)")
        }
    }

    @Test func aRangeThatCannotBeDroppedIsReportedAndTheRangesAfterItAreStillDropped() throws {
        let discarder = PageDiscarder()
        let mapping = try filledMapping(pages: 4)
        // A hole: an address range with nothing mapped.
        let hole = try AnonymousMapping(size: pageSize)
        let holeRange = iovec(iov_base: hole.base, iov_len: pageSize)
        _ = munmap(hole.release().baseAddress, pageSize)
        let ranges = [range(mapping, page: 0), holeRange, range(mapping, page: 2)]
        let error = ranges.withUnsafeBufferPointer { discarder.discard($0) }
        #expect(error == .noMemory, "madvise of an unmapped range is ENOMEM")
        #expect(firstByte(mapping, page: 0) == 0)
        #expect(firstByte(mapping, page: 1) == 2)
        #expect(firstByte(mapping, page: 2) == 0)
        #expect(firstByte(mapping, page: 3) == 4)
        discarder.checkInvariants()
    }

    @Test func noRangesIsNothingToDo() {
        let discarder = PageDiscarder()
        #expect([iovec]().withUnsafeBufferPointer { discarder.discard($0) } == nil)
    }
}
#endif
