/// The "is this device in use?" decision, from the texts of /proc/swaps and /proc/mounts.
public enum ZramUsage {
    /// Whether `devicePath` (`/dev/zram0`) is an active swap area in `procSwaps`.
    public static func isSwap(_ devicePath: String, procSwaps: String) -> Bool {
        procSwaps.split(separator: "\n").dropFirst().contains { line in
            line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true).first
                .map { unescapeMountField(String($0)) == devicePath } ?? false
        }
    }

    /// The mount points of `devicePath` in `procMounts` (octal escapes such as `\040` decoded).
    public static func mountPoints(of devicePath: String, procMounts: String) -> [String] {
        procMounts.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, unescapeMountField(String(fields[0])) == devicePath else { return nil }
            return unescapeMountField(String(fields[1]))
        }
    }

    /// Why device `name` is in use (empty: it is unused): initialized (disksize not 0), swap,
    /// mounted, or held by another block device (`holders/`).
    public static func inUseReasons(
        name: String, disksize: Int, procSwaps: String, procMounts: String, holders: [String] = []
    ) -> [String] {
        let devicePath = "/dev/\(name)"
        var reasons: [String] = []
        if disksize != 0 { reasons.append("initialized (disksize \(disksize))") }
        if isSwap(devicePath, procSwaps: procSwaps) { reasons.append("swap in /proc/swaps") }
        for point in mountPoints(of: devicePath, procMounts: procMounts) {
            reasons.append("mounted on \(point)")
        }
        if !holders.isEmpty { reasons.append("held by \(holders.joined(separator: " "))") }
        return reasons
    }

    /// Decodes the kernel's `\ooo` octal escapes in /proc/mounts and /proc/swaps fields.
    public static func unescapeMountField(_ field: String) -> String {
        guard field.contains("\\") else { return field }
        var bytes: [UInt8] = []
        let raw = Array(field.utf8)
        var i = 0
        while i < raw.count {
            if raw[i] == UInt8(ascii: "\\"), i + 3 < raw.count, let code = octal(raw[(i + 1)...(i + 3)]) {
                bytes.append(code)
                i += 4
            } else {
                bytes.append(raw[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func octal(_ digits: ArraySlice<UInt8>) -> UInt8? {
        guard digits.count == 3 else { return nil }
        var value = 0
        for d in digits {
            guard d >= UInt8(ascii: "0"), d <= UInt8(ascii: "7") else { return nil }
            value = value * 8 + Int(d - UInt8(ascii: "0"))
        }
        return value <= 255 ? UInt8(value) : nil
    }
}
