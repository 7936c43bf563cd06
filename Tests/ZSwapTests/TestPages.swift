import PageStore
import ZSwap

/// Pages for the cache tests: each names its slot and generation, so a reader can check it.
enum TestPage {
    enum Kind { case compressible, incompressible, sameFilled }

    /// The page of (`slot`, `generation`) of the given kind, `size` bytes.
    static func make(_ slot: Int, _ generation: Int = 0, _ kind: Kind = .compressible, size: Int = 4096) -> [UInt8] {
        var page = [UInt8](repeating: 0, count: size)
        let identity = UInt64(slot) << 32 | UInt64(generation & 0xFFFF_FFFF)
        page.withUnsafeMutableBytes { p in
            let words = size / 8
            switch kind {
            case .sameFilled:
                for i in 0..<words { p.storeBytes(of: identity | 0x8000_0000_0000_0000, toByteOffset: i * 8, as: UInt64.self) }
            case .compressible, .incompressible:
                var state = identity &* 0x9E37_79B9_7F4A_7C15 | 1
                let used = kind == .incompressible ? words : 96 + Int(identity % 64)
                p.storeBytes(of: identity, toByteOffset: 0, as: UInt64.self)
                for i in 1..<words {
                    state ^= state << 13; state ^= state >> 7; state ^= state << 17
                    p.storeBytes(of: i < used ? state : UInt64(i & 7), toByteOffset: i * 8, as: UInt64.self)
                }
            }
        }
        return page
    }
}

extension FrontswapCache {
    /// Stores a test page.
    func store(_ page: [UInt8], at slot: Int) throws {
        try page.withUnsafeBytes { try writePage($0, at: slot) }
    }

    /// Loads a page into a new array.
    func load(_ slot: Int) throws -> [UInt8] {
        var page = [UInt8](repeating: 0, count: pageSize)
        try page.withUnsafeMutableBytes { try readPage(at: slot, into: $0) }
        return page
    }
}

/// A cache over a temporary file wrapped in a fault injector.
func makeCache(
    slots: Int = 256, limit: PoolLimit = .bytes(64 << 20), shrinkOnLimit: Bool = true,
    threshold: Int = 90, storeIncompressible: Bool = true, checksums: Bool = false,
    limitPolicy: FrontswapConfiguration.LimitPolicy = .writeBackOldest
) throws -> (FrontswapCache, FaultInjectingBackingFile) {
    let file = FaultInjectingBackingFile(wrapping: try BackingFile.temporary(blockCount: slots))
    var configuration = FrontswapConfiguration(slotCount: slots, poolLimit: limit)
    configuration.shrinkOnLimit = shrinkOnLimit
    configuration.acceptThresholdPercent = threshold
    configuration.storeIncompressible = storeIncompressible
    configuration.checksums = checksums
    configuration.limitPolicy = limitPolicy
    return (try FrontswapCache(configuration, file: file), file)
}
