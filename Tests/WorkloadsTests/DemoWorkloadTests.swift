import SystemSupport
import Testing
import Workloads

@Suite struct DemoWorkloadTests {
    @Test func aChangedRecordIsCaughtByVerification() {
        let work = DemoWorkload(table: DemoTable(pageCount: 32), operations: 2000, updatePercent: 50)
        let memory = UnsafeMutableRawPointer.allocate(byteCount: 32 * 4096, alignment: 4096)
        defer { memory.deallocate() }
        work.build(memory) { _ in }
        let ops = work.operate(memory)
        #expect(ops.badRecords == 0 && ops.updates > 0)
        let read: (Int, UnsafeMutableRawPointer) -> Bool = { page, buffer in
            buffer.copyMemory(from: memory + page * 4096, byteCount: 4096)
            return true
        }
        #expect(work.verify(read, progress: { _ in }).mismatches == 0)
        memory.storeBytes(of: 0xFF, toByteOffset: 5 * 4096 + 3 * 128 + 60, as: UInt8.self)
        #expect(work.verify(read, progress: { _ in }).mismatches == 1)
        // The model differs from a run without updates: a skipped update is caught too.
        let noUpdates = DemoWorkload(table: work.table, operations: 0, updatePercent: 0)
        #expect(noUpdates.verify(read, progress: { _ in }).mismatches > 1)
    }

    @Test func aPageThatCannotBeReadCountsAllItsRecords() {
        let work = DemoWorkload(table: DemoTable(pageCount: 4), operations: 0, updatePercent: 0)
        let check = work.verify({ page, _ in page != 2 }, progress: { _ in })
        #expect(check.mismatches >= DemoTable.recordsPerPage)
    }

    @Test func theUpdateModelCountsEveryUpdateTheOperationsMade() {
        let work = DemoWorkload(table: DemoTable(pageCount: 16), operations: 3000, updatePercent: 40)
        let memory = UnsafeMutableRawPointer.allocate(byteCount: 16 * 4096, alignment: 4096)
        defer { memory.deallocate() }
        work.build(memory) { _ in }
        let ops = work.operate(memory)
        #expect(work.updateModel().count == ops.updates)
        #expect(ops.lookups + ops.updates + ops.freedHits == 3000)
    }
}
