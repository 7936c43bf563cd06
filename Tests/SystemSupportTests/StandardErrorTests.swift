import SystemPackage
import Testing

@testable import SystemSupport

@Suite struct StandardErrorTests {
    @Test func linesArriveWholeAndInOrder() throws {
        let (readEnd, writeEnd) = try FileDescriptor.pipe()
        defer { try? readEnd.close() }
        StandardError.write("progress 50%", to: writeEnd)
        StandardError.line(" done", to: writeEnd)
        StandardError.line("warning: ünïcode", to: writeEnd)
        try writeEnd.close()
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64)
        while case let n = try chunk.withUnsafeMutableBytes({ try readEnd.read(into: $0) }), n > 0 { bytes += chunk[..<n] }
        #expect(String(decoding: bytes, as: UTF8.self) == "progress 50% done\nwarning: ünïcode\n")
    }

    @Test func aClosedDescriptorIsNoError() {
        StandardError.line("nobody reads this", to: FileDescriptor(rawValue: -1))
    }
}
