#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SystemSupport
import Testing

@testable import TierCrypto

@Suite("TierKey: the key lives in one locked page outside the heap, left out of core dumps")
struct TierKeyTests {
    /// The `/proc/self/smaps` entry of the mapping that holds `address` (other keys' pages,
    /// mapped next to it with the same flags, may share it).
    private func smapsEntry(at address: UnsafeRawPointer) throws -> [String] {
        let text = try ProcFile.read("/proc/self/smaps")
        let target = UInt(bitPattern: address)
        var entry: [String] = []
        var inside = false
        for line in text.split(separator: "\n") {
            if line.range(of: #"^[0-9a-f]+-[0-9a-f]+ "#, options: .regularExpression) != nil {  // a mapping's first line
                if inside { break }
                let bounds = line.split(separator: " ")[0].split(separator: "-").compactMap { UInt($0, radix: 16) }
                inside = bounds.count == 2 && bounds[0] <= target && target < bounds[1]
            }
            if inside { entry.append(String(line)) }
        }
        return entry
    }

    @Test("The key's page is locked (Locked: 4 kB, VmFlags lo) and not dumpable (VmFlags dd)")
    func lockedAndNotDumped() throws {
        let key = try TierKey.random()
        key.checkInvariants()
        #expect(key.isLocked && key.isExcludedFromCoreDumps)
        let entry = try smapsEntry(at: key.pageAddress)
        try #require(!entry.isEmpty, "the key's page is not in /proc/self/smaps")
        let flags = try #require(entry.first { $0.hasPrefix("VmFlags:") })
        let words = flags.split(separator: " ")
        #expect(words.contains("lo"), "not locked: \(flags)")
        #expect(words.contains("dd"), "dumpable: \(flags)")
        let locked = try #require(entry.first { $0.hasPrefix("Locked:") })
        #expect(locked.split(separator: " ").dropFirst().first.flatMap { Int($0) }.map { $0 >= 4 } == true, "\(locked)")
    }

    @Test("Two random keys differ, and a key of the wrong length is refused")
    func randomAndLength() throws {
        var a = [UInt8](repeating: 0, count: 32)
        var b = a
        try TierKey.random().withSymmetricKey { k in k.withUnsafeBytes { a = Array($0) } }
        try TierKey.random().withSymmetricKey { k in k.withUnsafeBytes { b = Array($0) } }
        #expect(a != b && a.contains { $0 != 0 })
        let short = [UInt8](repeating: 1, count: 16)
        #expect(throws: TierCryptoError.self) { try short.withUnsafeBytes { try TierKey(bytes: $0) } }
        let given = [UInt8](repeating: 7, count: 32)
        let key = try given.withUnsafeBytes { try TierKey(bytes: $0) }
        key.withSymmetricKey { k in k.withUnsafeBytes { #expect(Array($0) == given) } }
    }

    @Test("A key is claimed by one tier only")
    func claimedOnce() throws {
        let key = try TierKey.random()
        #expect(key.claim())
        #expect(!key.claim())
    }
}
