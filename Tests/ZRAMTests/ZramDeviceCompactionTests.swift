import Foundation
import PageStore
import SystemSupport
import TestSupport
import Testing

@testable import ZRAM

@Suite struct ZramDeviceCompactionTests {
    /// Resident bytes of the pool's reserved range, from the kernel's page tables (mincore).
    func poolResidentBytes(_ device: ZramDevice) -> Int {
        let range = device.pool.reservation
        let base = UnsafeMutableRawPointer(mutating: range.baseAddress!)
        let pages = range.count / AnonymousMapping.pageSize
        var vector = [UInt8](repeating: 0, count: pages)
        let result = vector.withUnsafeMutableBufferPointer { mincore(base, range.count, $0.baseAddress!) }
        guard result == 0 else { return -1 }
        return vector.reduce(0) { $0 + Int($1 & 1) } * AnonymousMapping.pageSize
    }

    /// The process's resident set from /proc/self/statm, in bytes.
    func processResidentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * AnonymousMapping.pageSize
    }

    @Test func compactionReturnsTheMemoryOfSparseSpansToTheSystem() throws {
        // 80 MiB of compressible pages, sizes spread over many classes.
        let slots = 20_480
        let device = try makePrefixDevice(slots: slots)
        let page = PageBuffer(), back = PageBuffer()
        for slot in 0..<slots {
            page.fillPrefix(200 + (slot * 37) % 2800, seed: UInt64(slot))
            try device.writePage(page.raw, at: slot)
        }
        // Free three quarters of the slots, chosen at random.
        var generator = SystemRandomNumberGenerator()
        var order = Array(0..<slots)
        order.shuffle(using: &generator)
        let kept = Set(order.prefix(slots / 4))
        for slot in order.dropFirst(slots / 4) { device.discard(slot) }
        device.checkInvariants()
        let usedBefore = device.mmStat.memUsedTotal
        let residentBefore = poolResidentBytes(device)
        let processBefore = processResidentBytes()
        // mem_used counts whole spans; pages of a span no object has reached yet are not resident.
        let mostOfUsed: Int = usedBefore * 9 / 10
        #expect(residentBefore <= usedBefore)
        #expect(residentBefore > mostOfUsed)

        let freedPages = device.compact()

        let processAfter = processResidentBytes()
        let usedAfter = device.mmStat.memUsedTotal
        let residentAfter = poolResidentBytes(device)
        let freedBytes = freedPages * AnonymousMapping.pageSize
        // Moved objects may reach a not yet committed page of a destination span.
        let netFreed: Int = usedBefore - usedAfter
        #expect(netFreed <= freedBytes && netFreed > freedBytes - device.pool.classes.count * 4096)
        #expect(device.mmStat.pagesCompacted == freedPages)
        #expect(usedAfter < usedBefore / 2, "a quarter of the objects should fit in well under half the spans")
        #expect(residentAfter <= usedAfter)
        let residentDrop: Int = residentBefore - residentAfter
        let mostOfFreed: Int = freedBytes * 9 / 10
        #expect(residentDrop >= mostOfFreed, "the freed spans are no longer resident")
        if let processBefore, let processAfter {
            // Other tests may allocate meanwhile; the drop must still show most of the freed memory.
            print("compaction: pool \(usedBefore) -> \(usedAfter) bytes, process RSS \(processBefore) -> \(processAfter)")
            #expect(processBefore - processAfter >= freedBytes / 2, "process RSS should drop with the freed spans")
        } else {
            CIGate.unavailable("/proc/self/statm")
        }
        device.checkInvariants()
        for slot in kept {
            page.fillPrefix(200 + (slot * 37) % 2800, seed: UInt64(slot))
            try device.readPage(at: slot, into: back.bytes)
            #expect(back.equals(page), "slot \(slot) after compaction")
        }
        // A second compaction finds (almost) nothing left to do.
        #expect(device.compact() * AnonymousMapping.pageSize <= usedAfter / 10)
    }

    @Test func compactionOfADenselyPackedPoolFreesNothing() throws {
        let device = try makePrefixDevice(slots: 256)
        let page = PageBuffer()
        for slot in 0..<256 {
            page.fillPrefix(1000, seed: UInt64(slot))
            try device.writePage(page.raw, at: slot)
        }
        let before = device.mmStat.memUsedTotal
        #expect(device.compact() == 0)
        #expect(device.mmStat.memUsedTotal == before)
        #expect(device.mmStat.pagesCompacted == 0)
        device.checkInvariants()
    }
}
