import Testing
import Workloads

@testable import Soak

@Suite struct PageModelTests {
    let pageSize = 4096

    /// `pages` pages of ordinary memory (no region) and a model of them.
    func withPages(_ pages: Int, _ body: (PageModel, UnsafeMutableRawPointer) -> Void) {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: pages * pageSize, alignment: 4096)
        defer { memory.deallocate() }
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: pages * pageSize)
        body(PageModel(pageCount: pages, pageSize: pageSize), memory)
    }

    @Test func aPageNeverWrittenIsExpectedToReadAsZeros() {
        withPages(2) { model, memory in
            #expect(model.version(of: 1) == 0)
            #expect(model.check(1, at: memory) == nil)
            memory.storeBytes(of: 1, toByteOffset: pageSize + 100, as: UInt8.self)
            #expect(model.check(1, at: memory)?.contains("word 12 differs") == true)
        }
    }

    @Test func writesAdvanceTheVersionAndLeaveThePageMatchingIt() {
        withPages(3) { model, memory in
            #expect(model.write(2, at: memory) == 1)
            #expect(model.write(2, at: memory) == 2)
            #expect(model.version(of: 2) == 2)
            #expect(model.version(of: 2) & PageModel.writingBit == 0)
            #expect(model.check(2, at: memory) == nil)
            #expect(VersionedPage.verify(memory, page: 2, version: 2, pageSize: pageSize))
        }
    }

    @Test func diagnosesZerosAStaleVersionAnotherPageAndATornPage() {
        withPages(4) { model, memory in
            for _ in 0..<3 { model.write(1, at: memory) }
            let page = memory + pageSize
            // Zeros.
            page.initializeMemory(as: UInt8.self, repeating: 0, count: pageSize)
            #expect(model.check(1, at: memory) == "page 1 should hold version 3 but reads as zeros")
            // A lost write: version 2.
            VersionedPage.fill(memory, page: 1, version: 2, pageSize: pageSize)
            #expect(model.check(1, at: memory) == "page 1 should hold version 3 but holds version 2 (a lost write: stale)")
            // Page 3's contents.
            VersionedPage.fill(memory - 2 * pageSize, page: 3, version: 5, pageSize: pageSize)
            #expect(model.check(1, at: memory)?.contains("holds page 3 version 5 (another page's contents)") == true)
            // Half of version 3, half of version 2.
            VersionedPage.fill(memory, page: 1, version: 3, pageSize: pageSize)
            page.storeBytes(of: 0xDEAD, toByteOffset: 2048, as: UInt64.self)
            #expect(model.check(1, at: memory)?.contains("word 256 differs (torn or corrupt") == true)
        }
    }
}
