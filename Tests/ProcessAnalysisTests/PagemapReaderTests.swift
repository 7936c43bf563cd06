import Foundation
import PageCodecs
import SystemPackage
import SystemSupport
import Testing
import Workloads

@testable import ProcessAnalysis

@Suite("/proc/PID/pagemap: which pages are present")
struct PagemapReaderTests {
    @Test("a pagemap of a process that does not exist is noSuchProcess")
    func noSuchProcess() throws {
        let pid = try unusedPid()
        #expect(throws: ProcessMemoryError.noSuchProcess(pid: pid)) { try PagemapReader(pid: pid) }
    }

    @Test("the helper's patterns are distinct analysed mappings; pagemap sees touched pages present")
    func helperMappingsAndResidency() throws {
        let helper = try PatternHelper([.zero: 3, .same: 4, .random: 5, .text: 6, .untouched: 7])
        defer { helper.stop() }
        let pageSize = MemoryAnalysis.systemPageSize
        let mappings = try MemoryMapping.read(pid: helper.pid)
        let pagemap = try PagemapReader(pid: helper.pid)
        pagemap.checkInvariants()
        for name in MemoryPattern.allCases {
            let area = try #require(helper.areas[name])
            let mapping = try #require(mappings.first { $0.start == area.address }, "no mapping for \(name)")
            #expect(Int(mapping.size) == area.pages * pageSize, "\(name) is its own mapping")
            #expect(mapping.isAnalyzed)
            var present = 0
            var notPresent = 0
            try pagemap.forEachPage(of: mapping, pageSize: pageSize) { _, residency in
                if residency == .present { present += 1 } else if residency == .notPresent { notPresent += 1 }
            }
            if name == .untouched {
                #expect(present == 0 && notPresent == area.pages)
            } else {
                #expect(present == area.pages && notPresent == 0, "\(name)")
            }
        }
    }
}
