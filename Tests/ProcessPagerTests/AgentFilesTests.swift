import Foundation
import TestSupport
import Testing

@testable import ProcessPager

@Suite struct AgentFilesTests {
    static func directoryWithAgent() throws -> String {
        let directory = NSTemporaryDirectory() + "uswap-agent-files-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: directory + "/" + AgentFiles.agentName, contents: Data())
        return directory
    }

    @Test func theAgentIsFoundNextToTheExecutable() throws {
        let directory = try Self.directoryWithAgent()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let files = try AgentFiles.locate(executable: directory + "/uswap", allocator: "none")
        #expect(files.agent == directory + "/libuswap-agent.so")
        #expect(files.allocator == nil)
    }

    @Test func theAgentIsFoundInTheBuildsResourceBundle() throws {
        let directory = NSTemporaryDirectory() + "uswap-agent-files-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bundle = directory + "/" + AgentFiles.bundleName
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: bundle + "/" + AgentFiles.agentName, contents: Data())
        let files = try AgentFiles.locate(executable: directory + "/uswap", allocator: "none")
        #expect(files.agent == bundle + "/libuswap-agent.so")
        // The build's own agent wins over one left next to the executable by an older build.
        _ = FileManager.default.createFile(atPath: directory + "/" + AgentFiles.agentName, contents: Data())
        #expect(try AgentFiles.locate(executable: directory + "/uswap", allocator: "none").agent == bundle + "/libuswap-agent.so")
    }

    @Test func theBuiltUswapHasItsAgent() throws {
        // Building uswap builds the agent (the BuildAgent plugin): the test's own build has one.
        guard let uswap = BuiltProducts.path(of: "uswap") else {
            CIGate.unavailable("the uswap executable (swift build)")
            return
        }
        let files = try AgentFiles.locate(executable: uswap, allocator: "none")
        #expect(files.agent.hasSuffix(AgentFiles.bundleName + "/" + AgentFiles.agentName))
    }

    @Test func aMissingAgentSaysHowToBuildOrInstallIt() {
        #expect(throws: AgentFilesError.agentMissing(directory: "/nonexistent")) {
            try AgentFiles.locate(executable: "/nonexistent/uswap")
        }
        #expect(AgentFilesError.agentMissing(directory: "/x").description.contains("install -m 755"))
    }

    @Test func aNamedAllocatorMustExist() throws {
        let directory = try Self.directoryWithAgent()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: AgentFilesError.allocatorMissing("/no/such/lib.so")) {
            try AgentFiles.locate(executable: directory + "/uswap", allocator: "/no/such/lib.so")
        }
    }

    @Test func thePreloadPutsTheAgentFirstTheAllocatorSecondAndKeepsWhatWasThere() {
        let files = AgentFiles(agent: "/a/libuswap-agent.so", allocator: "/lib/libmimalloc.so.2")
        #expect(files.preload(existing: "libx.so liby.so") == "/a/libuswap-agent.so /lib/libmimalloc.so.2 libx.so liby.so")
        #expect(files.preload(existing: nil) == "/a/libuswap-agent.so /lib/libmimalloc.so.2")
        #expect(AgentFiles(agent: "/a/l.so", allocator: nil).preload(existing: "") == "/a/l.so")
    }
}
