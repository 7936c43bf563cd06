#if canImport(Glibc)
import Glibc
#endif
import FuzzChecks
import PageStore
import Testing

@Suite struct FaultMirrorTests {
    /// The mirror predicts, call by call, the faults the file injects.
    @Test func predictsTheFilesFaultsCallByCall() throws {
        let file = FaultInjectingBackingFile(wrapping: MemoryPageFile(pageSize: 4096, blockCount: 4))
        var mirror = FaultMirror()
        mirror.inject(.error(errno: EIO), on: .read, block: 1, times: 2, into: file)
        mirror.inject(.corrupt, on: .read, block: nil, times: 1, into: file)
        mirror.inject(.short, on: .write, block: nil, times: nil, into: file)
        var buffer = [UInt8](repeating: 0, count: 4096)
        for block in [1, 0, 1, 1, 2] {
            let predicted = mirror.next(.read, block: block)
            let thrown: PageStoreError?
            do { try buffer.withUnsafeMutableBytes { try file.readBlock(block, into: $0) }; thrown = nil } catch let e as PageStoreError { thrown = e }
            switch predicted {
            case .error(let code)?: #expect(thrown == .io(errno: code, operation: "read of block \(block) (injected fault)"))
            case .corrupt?, nil: #expect(thrown == nil)
            default: Issue.record("unexpected prediction \(String(describing: predicted))")
            }
        }
        #expect(mirror.next(.write, block: 3) == .short)
        #expect(throws: PageStoreError.self) { try buffer.withUnsafeBytes { try file.writeBlock($0, at: 3) } }
        #expect(mirror.matches(file))
        mirror.clear(file)
        #expect(mirror.next(.write, block: 0) == nil)
    }
}
