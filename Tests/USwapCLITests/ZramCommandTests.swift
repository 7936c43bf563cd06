import Foundation
import Testing
@testable import USwapCLI
import KernelSwap

@Suite struct ZramCommandTests {
    /// zram0: initialized lz4 swap; zram1: initialized, mounted, with max_comp_streams;
    /// zram2: uninitialized.
    static func populatedTree() throws -> ZramFixtureTree {
        let tree = try ZramFixtureTree()
        try tree.addModule()
        try tree.addDevice(
            "zram0", algorithms: "lzo-rle lzo [lz4] ", disksize: 4 << 30,
            mmStat: [67_117_056, 25_379_356, 27_369_472, 0, 27_369_472, 698, 0, 15, 15], ioStat: [0, 0, 0, 12])
        try tree.addDevice(
            "zram1", algorithms: "[lzo-rle] lzo lz4 ", disksize: 512 << 20,
            mmStat: [4096, 0, 0, 0, 0, 1, 0, 0, 0], maxCompStreams: 4)
        try tree.addDevice("zram2")
        try tree.write("/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n/dev/zram0 partition 4194300 0 100\n")
        try tree.write("/proc/mounts", "/dev/vda / ext4 rw 0 0\n/dev/zram1 /mnt/z ext4 rw 0 0\n")
        return tree
    }

    @Test func theTableListsInitializedDevicesLikeZramctl() throws {
        let tree = try Self.populatedTree()
        defer { tree.remove() }
        let listing = ZramListing(root: tree.systemRoot, includeUninitialized: false, onlineCPUs: 2)
        #expect(listing.rows.map(\.name) == ["zram0", "zram1"])
        #expect(listing.present == ["zram0", "zram1", "zram2"])
        let lines = listing.table(bytes: false).split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0].split(separator: " ") == ["NAME", "ALGORITHM", "DISKSIZE", "DATA", "COMPR", "TOTAL", "STREAMS", "MOUNTPOINT"])
        #expect(lines[1].split(separator: " ") == ["/dev/zram0", "lz4", "4G", "64M", "24.2M", "26.1M", "2", "[SWAP]"])
        #expect(lines[2].split(separator: " ") == ["/dev/zram1", "lzo-rle", "512M", "4K", "0B", "0B", "4", "/mnt/z"])
        // Columns line up: every row's DISKSIZE ends where the header's does.
        let end = try #require(lines[0].range(of: "DISKSIZE")).upperBound.utf16Offset(in: lines[0])
        for line in lines.dropFirst() {
            let index = line.index(line.startIndex, offsetBy: end - 1)
            #expect(line[index] != " ")
        }
    }

    @Test func bytesPrintsRawNumbers() throws {
        let tree = try Self.populatedTree()
        defer { tree.remove() }
        let listing = ZramListing(root: tree.systemRoot, includeUninitialized: false, onlineCPUs: 2)
        let row = listing.table(bytes: true).split(separator: "\n")[1].split(separator: " ")
        #expect(row == ["/dev/zram0", "lz4", "4294967296", "67117056", "25379356", "27369472", "2", "[SWAP]"])
    }

    @Test func allAddsUninitializedDevices() throws {
        let tree = try Self.populatedTree()
        defer { tree.remove() }
        let listing = ZramListing(root: tree.systemRoot, includeUninitialized: true, onlineCPUs: 3)
        #expect(listing.rows.map(\.name) == ["zram0", "zram1", "zram2"])
        let last = listing.table(bytes: false).split(separator: "\n").last.map { $0.split(separator: " ") }
        #expect(last == ["/dev/zram2", "lz4", "0B", "0B", "0B", "0B", "3"])
    }

    @Test func devicesAreOrderedNumerically() throws {
        let tree = try ZramFixtureTree()
        defer { tree.remove() }
        try tree.addModule()
        for name in ["zram10", "zram2", "zram1", "loop0", "zramx"] {
            try tree.addDevice(name, disksize: 4096)
        }
        #expect(KernelZram.devices(root: tree.systemRoot).map(\.name) == ["zram1", "zram2", "zram10"])
    }

    @Test func noModuleSaysHowToLoadIt() throws {
        let tree = try ZramFixtureTree()
        defer { tree.remove() }
        let listing = ZramListing(root: tree.systemRoot, includeUninitialized: false, onlineCPUs: 2)
        #expect(listing.table(bytes: false) == "no zram devices: the zram module is not loaded (modprobe zram as root)")
        #expect(listing.rows.isEmpty)
    }

    @Test func aLoadedModuleWithoutDevicesSaysHowToAddOne() throws {
        let tree = try ZramFixtureTree()
        defer { tree.remove() }
        try tree.addModule()
        let text = ZramListing(root: tree.systemRoot, includeUninitialized: true, onlineCPUs: 2).table(bytes: false)
        #expect(text.hasPrefix("no zram devices: the zram module is loaded but has none"))
        #expect(text.contains("hot_add"))
    }

    @Test func onlyUninitializedDevicesPointToAll() throws {
        let tree = try ZramFixtureTree()
        defer { tree.remove() }
        try tree.addModule()
        try tree.addDevice("zram0")
        let listing = ZramListing(root: tree.systemRoot, includeUninitialized: false, onlineCPUs: 2)
        #expect(listing.table(bytes: false) == "no initialized zram devices (zram0 is present but uninitialized: --all lists it)")
        #expect(ZramListing(root: tree.systemRoot, includeUninitialized: true, onlineCPUs: 2).rows.count == 1)
    }

    @Test func theJSONHasOneEntryPerDeviceWithKernelFieldNames() throws {
        let tree = try Self.populatedTree()
        defer { tree.remove() }
        let listing = ZramListing(root: tree.systemRoot, includeUninitialized: false, onlineCPUs: 2)
        let object = try #require(
            try jsonObject(listing) as [String: Any]?)
        #expect(object["message"] == nil)
        #expect(object["module_loaded"] as? Bool == true)
        let devices = try #require(object["devices"] as? [[String: Any]])
        #expect(devices.count == 2)
        let zram0 = devices[0]
        #expect(zram0["name"] as? String == "zram0")
        #expect(zram0["mountpoint"] as? String == "[SWAP]")
        #expect(zram0["disksize"] as? Int == 4 << 30)
        #expect(zram0["total"] as? Int == 27_369_472)
        let mmStat = try #require(zram0["mm_stat"] as? [String: Int])
        #expect(Set(mmStat.keys) == Set(KernelMMStat.fieldNames))
        #expect(mmStat["same_pages"] == 698)
        let ioStat = try #require(zram0["io_stat"] as? [String: Int])
        #expect(ioStat["notify_free"] == 12)
        #expect(devices[1]["mountpoint"] as? String == "/mnt/z")
    }

    @Test func theEmptyJSONCarriesTheMessage() throws {
        let tree = try ZramFixtureTree()
        defer { tree.remove() }
        let listing = ZramListing(root: tree.systemRoot, includeUninitialized: false, onlineCPUs: 2)
        let object = try #require(
            try jsonObject(listing) as [String: Any]?)
        #expect((object["devices"] as? [Any])?.isEmpty == true)
        #expect((object["message"] as? String)?.contains("not loaded") == true)
    }

    @Test func theCommandParsesItsOptions() throws {
        let command = try Zram.parse(["--all", "--bytes", "--json", "--system-root", "/tmp/x"])
        #expect(command.all && command.bytes && command.json)
        #expect(command.systemRoot == "/tmp/x")
        #expect(throws: (any Error).self) { try Zram.parse(["--size", "1G"]) }
    }

    @Test(arguments: [
        (0, "0B"), (512, "512B"), (1023, "1023B"), (1024, "1K"), (1536, "1.5K"), (4096, "4K"),
        (1_048_575, "1024K"), (25_379_356, "24.2M"), (27_369_472, "26.1M"), (1 << 30, "1G"),
        ((1 << 30) + (1 << 29), "1.5G"), (5 << 40, "5T"),
    ])
    func humanSizesFollowUtilLinux(bytes: Int, text: String) {
        #expect(humanSize(bytes) == text)
    }
}
