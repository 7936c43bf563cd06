import PageCodecs

/// How to build a ``ZramDevice``: the knobs zram exposes in sysfs before `disksize` is set.
public struct ZramConfiguration: Sendable {
    /// Capacity in bytes (the uncompressed size the device presents), a multiple of `pageSize`.
    public var disksize: Int
    /// The page size, a power of two from 4 KiB to 64 KiB.
    public var pageSize: Int = 4096
    /// The primary codec (`comp_algorithm`).
    public var codec: PageCodecFactory = .lz4
    /// The pool's memory limit in bytes (`mem_limit`); 0 means none. Rounded up to whole pages.
    public var memLimit: Int = 0
    /// The codec used by ``ZramDevice/recompress(type:threshold:maxPages:)`` (`recomp_algorithm`
    /// priority 1), or `nil` for none.
    public var secondaryCodec: PageCodecFactory? = nil
    /// The file or tier pages are written back to (`backing_dev`), or `nil` for none: without one,
    /// ``ZramDevice/writeback(_:maxPages:)`` throws ``ZramError/noBackingDevice``.
    public var backingDevice: ZramBackingDevice? = nil
    /// Writeback the device starts by itself when its pool passes a high watermark, or `nil`
    /// for none (only explicit ``ZramDevice/writeback(_:maxPages:)``). Needs ``backingDevice``.
    public var automaticWriteback: ZramAutomaticWriteback? = nil

    /// A configuration with the given size, page size, codec and limit.
    public init(disksize: Int, pageSize: Int = 4096, codec: PageCodecFactory = .lz4, memLimit: Int = 0) {
        self.disksize = disksize
        self.pageSize = pageSize
        self.codec = codec
        self.memLimit = memLimit
    }

    /// Why this configuration cannot make a device, or `nil` when it can.
    var problem: String? {
        if !PageSize.isValid(pageSize) {
            return "page size \(pageSize) is not a power of two from 4096 to 65536: use 4096"
        }
        if disksize <= 0 || disksize % pageSize != 0 {
            return "disksize \(disksize) is not a positive multiple of the \(pageSize)-byte page size"
        }
        if disksize / pageSize > Int(UInt32.max) {
            return "disksize \(disksize) holds more than 2^32 pages: use a smaller disksize"
        }
        if memLimit < 0 { return "mem_limit \(memLimit) is negative: use 0 for no limit" }
        if let backing = backingDevice, let problem = backing.problem(pageSize: pageSize) { return problem }
        if let automatic = automaticWriteback {
            guard backingDevice != nil else {
                return "automatic writeback needs a backing device: set backingDevice as well"
            }
            if let problem = automatic.problem { return problem }
        }
        return nil
    }
}
